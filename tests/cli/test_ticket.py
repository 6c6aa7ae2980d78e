"""swarm-proxy ticket: the ticket's fields, its expiry, and --out."""

import json
import os
import stat
import time
import unittest

from cli_helpers import TOKEN_PATTERN, CliTestCase, run

BROKER = '127.0.0.1:18787'
TICKET_FIELDS = {'schema_version', 'mode', 'session_id', 'token', 'broker_addr',
                 'issued_at_unix', 'expires_at_unix'}


class TicketTest(CliTestCase):

    def issue(self, *extra_args, json_mode=True):
        args = (['--json'] if json_mode else []) + \
            ['ticket', '--session-id', 'ci-session', '--broker', BROKER] + list(extra_args)
        result = run(args)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def assert_ticket(self, ticket):
        self.assertEqual(set(ticket), TICKET_FIELDS)
        self.assertEqual(ticket['schema_version'], 'agent_swarm-net-cap-proxy-v1')
        self.assertEqual(ticket['mode'], 'proxy')
        self.assertEqual(ticket['session_id'], 'ci-session')
        self.assertEqual(ticket['broker_addr'], BROKER)
        self.assertRegex(ticket['token'], TOKEN_PATTERN)
        self.assertIsInstance(ticket['issued_at_unix'], int)
        self.assertLessEqual(abs(ticket['issued_at_unix'] - time.time()), 60)

    def test_text_prints_pretty_ticket(self):
        result = self.issue(json_mode=False)

        ticket = json.loads(result.stdout)
        self.assert_ticket(ticket)
        self.assertIsNone(ticket['expires_at_unix'])
        self.assertGreater(len(result.stdout.splitlines()), 1, 'text mode should indent')

    def test_json_prints_one_line(self):
        result = self.issue()

        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 1, result.stdout)
        ticket = json.loads(lines[0])
        self.assert_ticket(ticket)
        self.assertIsNone(ticket['expires_at_unix'])

    def test_json_after_subcommand(self):
        result = run(['ticket', '--session-id', 'ci-session', '--broker', BROKER, '--json'])

        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(len(result.stdout.splitlines()), 1, result.stdout)
        self.assert_ticket(json.loads(result.stdout))

    def test_each_ticket_has_fresh_token(self):
        first = json.loads(self.issue().stdout)
        second = json.loads(self.issue().stdout)

        self.assertNotEqual(first['token'], second['token'])

    def test_ttl_one_hour(self):
        ticket = json.loads(self.issue('--ttl', '1h').stdout)

        self.assertEqual(ticket['expires_at_unix'], ticket['issued_at_unix'] + 3600)

    def test_ttl_suffixes(self):
        for ttl, seconds in (('90', 90), ('90m', 5400), ('12h', 43200), ('7d', 604800),
                             ('2w', 1209600)):
            with self.subTest(ttl=ttl):
                ticket = json.loads(self.issue('--ttl', ttl).stdout)

                self.assertEqual(ticket['expires_at_unix'] - ticket['issued_at_unix'], seconds)

    def test_expires_at_unix(self):
        expires_at = int(time.time()) + 7200
        ticket = json.loads(self.issue('--expires-at-unix', str(expires_at)).stdout)

        self.assertEqual(ticket['expires_at_unix'], expires_at)

    def test_out_json_writes_private_file(self):
        path = os.path.join(self.workdir, 'new', 'folder', 'ticket.json')
        result = self.issue('--out', path)

        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 1, result.stdout)
        wrapper = json.loads(lines[0])
        self.assertEqual(list(wrapper), ['status', 'ticket_path', 'ticket'])
        self.assertEqual(wrapper['status'], 'ok')
        self.assertEqual(wrapper['ticket_path'], path)
        self.assert_ticket(wrapper['ticket'])

        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as ticket_file:
            self.assertEqual(json.load(ticket_file), wrapper['ticket'])

    def test_out_text_names_path(self):
        path = os.path.join(self.workdir, 'ticket.json')
        result = self.issue('--out', path, json_mode=False)

        self.assertEqual(result.stdout, f'ticket written: {path}\n')
        with open(path) as ticket_file:
            self.assert_ticket(json.load(ticket_file))

    def test_out_replaces_existing_file(self):
        path = os.path.join(self.workdir, 'ticket.json')
        first = json.loads(self.issue('--out', path).stdout)['ticket']
        second = json.loads(self.issue('--out', path).stdout)['ticket']

        with open(path) as ticket_file:
            self.assertEqual(json.load(ticket_file)['token'], second['token'])
        self.assertNotEqual(first['token'], second['token'])
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)

    def test_out_unwritable_exit_1(self):
        blocker = os.path.join(self.workdir, 'not-a-folder')
        with open(blocker, 'w'):
            pass
        result = run(['ticket', '--session-id', 'ci', '--broker', BROKER,
                      '--out', os.path.join(blocker, 'ticket.json')])

        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn('not-a-folder', result.stderr)

    def test_expires_in_past_exit_2(self):
        past = int(time.time()) - 60
        result = run(['ticket', '--session-id', 'ci', '--broker', BROKER,
                      '--expires-at-unix', str(past)])

        self.assert_usage_error(result, str(past))

    def test_expires_not_a_number_exit_2(self):
        result = run(['ticket', '--session-id', 'ci', '--broker', BROKER,
                      '--expires-at-unix', 'tomorrow'])

        self.assert_usage_error(result, 'tomorrow')

    def test_ttl_and_expires_conflict_exit_2(self):
        result = run(['ticket', '--session-id', 'ci', '--broker', BROKER, '--ttl', '1h',
                      '--expires-at-unix', str(int(time.time()) + 3600)])

        self.assert_usage_error(result, '--ttl', '--expires-at-unix')

    def test_invalid_ttl_exit_2(self):
        for ttl in ('0', '-5', '5x', 'h', ''):
            with self.subTest(ttl=ttl):
                result = run(['ticket', '--session-id', 'ci', '--broker', BROKER, '--ttl', ttl])

                self.assert_usage_error(result, '--ttl')

    def test_missing_session_id_exit_2(self):
        result = run(['ticket', '--broker', BROKER])

        self.assert_usage_error(result, '--session-id')

    def test_missing_broker_exit_2(self):
        result = run(['ticket', '--session-id', 'ci'])

        self.assert_usage_error(result, '--broker')

    def test_invalid_session_id_exit_2(self):
        for session_id in ('two words', '', 'tab\there'):
            with self.subTest(session_id=session_id):
                result = run(['ticket', '--session-id', session_id, '--broker', BROKER])

                self.assert_usage_error(result, 'session id')

    def test_invalid_broker_exit_2(self):
        for broker in ('127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', '[::1]', '::1',
                       ':8787', 'host:port'):
            with self.subTest(broker=broker):
                result = run(['ticket', '--session-id', 'ci', '--broker', broker])

                self.assert_usage_error(result, broker)

    def test_ipv6_broker_accepted(self):
        result = run(['--json', 'ticket', '--session-id', 'ci', '--broker', '[::1]:8787'])

        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout)['broker_addr'], '[::1]:8787')


if __name__ == '__main__':
    unittest.main()
