"""swarm-proxy provider: where the token comes from, tickets, and bad input."""

import json
import os
import re
import signal
import time
import unittest

from cli_helpers import LOOPBACK, CliTestCase, child_environment, run

BROKER = '127.0.0.1:18787'
TOKEN = 'Zm9yLXRlc3RzLW9ubHktbm90LWEtc2VjcmV0'


def write_ticket(path, expires_at_unix, broker=BROKER, session_id='ci-session', token=TOKEN):
    """Write a ticket file as swarm-proxy ticket would, with chosen times."""
    ticket = {
        'schema_version': 'agent_swarm-net-cap-proxy-v1',
        'mode': 'proxy',
        'session_id': session_id,
        'token': token,
        'broker_addr': broker,
        'issued_at_unix': int(time.time()) - 7200,
        'expires_at_unix': expires_at_unix,
    }
    with open(path, 'w') as ticket_file:
        json.dump(ticket, ticket_file)
    os.chmod(path, 0o600)


class ProviderUsageTest(CliTestCase):
    """Bad command lines and files, rejected before anything connects."""

    def test_expired_ticket_exit_1(self):
        path = os.path.join(self.workdir, 'old.json')
        expired_at = int(time.time()) - 3600
        write_ticket(path, expired_at)

        result = run(['provider', '--ticket', path])

        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(path, result.stderr)
        self.assertIn('expired', result.stderr)
        self.assertIn(str(expired_at), result.stderr)
        self.assertIn(time.strftime('%Y-%m-%d %H:%M', time.gmtime(expired_at)), result.stderr)
        self.assertIn('swarm-proxy ticket', result.stderr, 'the message should say what to do')

    def test_expired_ticket_json_error(self):
        path = os.path.join(self.workdir, 'old.json')
        write_ticket(path, int(time.time()) - 10)

        result = run(['--json', 'provider', '--ticket', path])

        self.assertEqual(result.returncode, 1, result.stderr)
        error = json.loads(result.stderr.splitlines()[-1])
        self.assertEqual(error['status'], 'error')
        self.assertIn('expired', error['message'])

    def test_missing_ticket_exit_1(self):
        path = os.path.join(self.workdir, 'absent.json')

        result = run(['provider', '--ticket', path])

        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(path, result.stderr)

    def test_invalid_ticket_exit_1(self):
        path = os.path.join(self.workdir, 'garbage.json')
        with open(path, 'w') as ticket_file:
            ticket_file.write('{"schema_version": "something-else"}')

        result = run(['provider', '--ticket', path])

        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(path, result.stderr)

    def test_ticket_with_broker_option_exit_2(self):
        path = os.path.join(self.workdir, 'ticket.json')
        write_ticket(path, None)

        for option, value in (('--broker', BROKER), ('--session-id', 'other'),
                              ('--token', TOKEN), ('--token-file', path)):
            with self.subTest(option=option):
                result = run(['provider', '--ticket', path, option, value])

                self.assert_usage_error(result, option, '--ticket')

    def test_invalid_session_id_exit_2(self):
        for session_id in ('two words', ''):
            with self.subTest(session_id=session_id):
                result = run(['provider', '--broker', BROKER, '--session-id', session_id,
                              '--token', TOKEN])

                self.assert_usage_error(result, 'session id', f'“{session_id}”')

    def test_invalid_token_exit_2(self):
        result = run(['provider', '--broker', BROKER, '--session-id', 'ci',
                      '--token', 'has space'])

        self.assert_usage_error(result, 'token')
        self.assertNotIn('has space', result.stderr, 'a token must not be echoed')

    def test_invalid_broker_exit_2(self):
        for broker in ('127.0.0.1', '127.0.0.1:0', 'localhost:no-such-service'):
            with self.subTest(broker=broker):
                result = run(['provider', '--broker', broker, '--session-id', 'ci',
                              '--token', TOKEN])

                self.assert_usage_error(result, broker)

    def test_missing_broker_exit_2(self):
        result = run(['provider', '--session-id', 'ci', '--token', TOKEN])

        self.assert_usage_error(result, '--broker')

    def test_missing_token_exit_2(self):
        result = run(['provider', '--broker', BROKER, '--session-id', 'ci'])

        self.assert_usage_error(result, 'token', 'SWARM_PROXY_TOKEN')

    def test_token_and_token_file_conflict_exit_2(self):
        path = os.path.join(self.workdir, 'token')
        with open(path, 'w') as token_file:
            token_file.write(TOKEN + '\n')

        result = run(['provider', '--broker', BROKER, '--session-id', 'ci',
                      '--token', TOKEN, '--token-file', path])

        self.assert_usage_error(result, '--token', '--token-file')

    def test_unreadable_token_file_exit_1(self):
        path = os.path.join(self.workdir, 'no-such-token')

        result = run(['provider', '--broker', BROKER, '--session-id', 'ci',
                      '--token-file', path])

        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(path, result.stderr)

    def test_empty_token_file_exit_1(self):
        path = os.path.join(self.workdir, 'empty-token')
        with open(path, 'w') as token_file:
            token_file.write('\n')

        result = run(['provider', '--broker', BROKER, '--session-id', 'ci',
                      '--token-file', path])

        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(path, result.stderr)

    def test_invalid_environment_token_exit_2(self):
        result = run(['provider', '--broker', BROKER, '--session-id', 'ci'],
                     env=child_environment(SWARM_PROXY_TOKEN=''))

        self.assert_usage_error(result, 'SWARM_PROXY_TOKEN')


class ProviderRunTest(CliTestCase):
    """A provider against a real broker on loopback."""

    def start_provider(self, args, env=None):
        provider = self.start(['provider'] + args + ['--allow-private'], env)
        start = provider.wait_for_line('stdout', r'^starting provider for session (\S+) via (\S+)$')
        self.assertIsNotNone(start, provider.describe())
        return provider

    def assert_shares(self, provider, broker_address, session_id, token):
        sharing = provider.wait_for_line('stderr', r'sharing: session \S+ is registered')
        self.assertIsNotNone(sharing, provider.describe())
        self.assert_fetch_through(broker_address, session_id, token, self.start_target())

    def test_token_from_environment(self):
        broker, address = self.start_broker()
        provider = self.start_provider(['--broker', address, '--session-id', 'env-session'],
                                       env=child_environment(SWARM_PROXY_TOKEN=TOKEN))

        self.assert_shares(provider, address, 'env-session', TOKEN)
        self.assertEqual(provider.stop(signal.SIGTERM), 0, provider.describe())

    def test_token_from_file(self):
        path = os.path.join(self.workdir, 'token')
        with open(path, 'w') as token_file:
            token_file.write(TOKEN + '\r\nsecond line is ignored\n')
        broker, address = self.start_broker()
        provider = self.start_provider(['--broker', address, '--session-id', 'file-session',
                                        '--token-file', path])

        self.assert_shares(provider, address, 'file-session', TOKEN)
        self.assertEqual(provider.stop(signal.SIGINT), 0, provider.describe())

    def test_token_option_beats_environment(self):
        broker, address = self.start_broker()
        provider = self.start_provider(['--broker', address, '--session-id', 'flag-session',
                                        '--token', TOKEN],
                                       env=child_environment(SWARM_PROXY_TOKEN='other-token'))

        self.assert_shares(provider, address, 'flag-session', TOKEN)

    def test_ticket_from_ticket_command(self):
        broker, address = self.start_broker()
        path = os.path.join(self.workdir, 'ticket.json')
        issued = run(['--json', 'ticket', '--session-id', 'ticket-session', '--broker', address,
                      '--ttl', '1h', '--out', path])
        self.assertEqual(issued.returncode, 0, issued.stderr)
        token = json.loads(issued.stdout)['ticket']['token']

        provider = self.start_provider(['--ticket', path])

        self.assert_shares(provider, address, 'ticket-session', token)

    def test_json_start_line(self):
        broker, address = self.start_broker()
        provider = self.start(['--json', 'provider', '--broker', address,
                               '--session-id', 'json-session', '--token', TOKEN])

        start = provider.wait_for_json('stdout', lambda line: True)
        self.assertEqual(start, {'status': 'ok', 'message': 'starting provider',
                                 'broker': address, 'session_id': 'json-session'})
        sharing = provider.wait_for_json('stderr', lambda line: 'sharing' in line['message'])
        self.assertIsNotNone(sharing, provider.describe())
        self.assertEqual(set(sharing), {'time', 'level', 'domain', 'message'})
        self.assertEqual(provider.stop(), 0, provider.describe())
        for line in provider.lines('stdout') + provider.lines('stderr'):
            self.assertIsInstance(json.loads(line), dict, line)

    def test_unreachable_broker_keeps_retrying(self):
        # The broker is stopped again, so its port refuses connections.
        broker, address = self.start_broker()
        self.assertEqual(broker.stop(), 0, broker.describe())

        provider = self.start_provider(['--broker', address, '--session-id', 'retry-session',
                                        '--token', TOKEN])

        retry = provider.wait_for_line('stderr', r'retrying in \d+ s')
        self.assertIsNotNone(retry, provider.describe())
        self.assertIsNone(provider.popen.poll(), 'an unreachable broker is no reason to exit')
        self.assertNotIn(TOKEN, '\n'.join(provider.lines('stderr')))
        self.assertEqual(provider.stop(), 0, provider.describe())

    def test_ticket_expiring_while_running_exit_1(self):
        broker, address = self.start_broker()
        path = os.path.join(self.workdir, 'short.json')
        expires_at = int(time.time()) + 2
        write_ticket(path, expires_at, broker=address, session_id='short-session')

        provider = self.start_provider(['--ticket', path])

        status = provider.wait(timeout=8)
        self.assertEqual(status, 1, provider.describe())
        self.assertTrue(re.search(r'expired', '\n'.join(provider.lines('stderr'))),
                        provider.describe())


if __name__ == '__main__':
    unittest.main()
