"""swarm-proxy share: embedded or remote broker, the printed ticket and command."""

import json
import re
import signal
import unittest

from cli_helpers import LOOPBACK, TOKEN_PATTERN, CliTestCase, run

SESSION_PATTERN = re.compile(r'^share-[0-9a-f]{8}$')


class ShareTest(CliTestCase):

    def wait_for_sharing_object(self, share):
        sharing = share.wait_for_json('stdout', lambda line: line.get('message') == 'sharing')
        self.assertIsNotNone(sharing, share.describe())
        return sharing

    def assert_sharing_object(self, sharing, broker_address):
        ticket = sharing['ticket']
        session_id = ticket['session_id']
        token = ticket['token']

        self.assertEqual(sharing['status'], 'ok')
        self.assertRegex(session_id, SESSION_PATTERN)
        self.assertRegex(token, TOKEN_PATTERN)
        self.assertEqual(ticket['broker_addr'], broker_address)
        self.assertIsNone(ticket['expires_at_unix'])
        self.assertEqual(sharing['proxy_url'], f'http://{session_id}:{token}@{broker_address}')
        self.assertEqual(sharing['curl'],
                         f'curl --proxy http://{broker_address} '
                         f'--proxy-user \'{session_id}:{token}\' "$URL"')

    def test_embedded_broker_json(self):
        share = self.start(['--json', 'share', '--listen', f'{LOOPBACK}:0', '--allow-private'])

        sharing = self.wait_for_sharing_object(share)
        listening = share.wait_for_json('stdout', lambda line: line['message'] == 'broker listening')
        broker_address = listening['listen']
        self.assert_sharing_object(sharing, broker_address)

        ticket = sharing['ticket']
        registered = share.wait_for_json('stderr', lambda line: 'sharing' in line['message'])
        self.assertIsNotNone(registered, share.describe())
        self.assert_fetch_through(broker_address, ticket['session_id'], ticket['token'],
                                  self.start_target())

        self.assertEqual(share.stop(signal.SIGINT), 0, share.describe())
        for line in share.lines('stdout') + share.lines('stderr'):
            self.assertIsInstance(json.loads(line), dict, line)

    def test_embedded_broker_text(self):
        share = self.start(['share', '--listen', f'{LOOPBACK}:0'])

        command = share.wait_for_line('stdout', r'^  (curl .*)$')
        self.assertIsNotNone(command, share.describe())
        listening = share.wait_for_line('stdout', r'^broker listening on (\S+)$')
        self.assertRegex(command.group(1),
                         rf'^curl --proxy http://{re.escape(listening.group(1))} '
                         r"--proxy-user 'share-[0-9a-f]{8}:[A-Za-z0-9_-]{32}' \"\$URL\"$")
        self.assertEqual(share.stop(signal.SIGTERM), 0, share.describe())

    def test_remote_broker(self):
        broker, broker_address = self.start_broker()
        share = self.start(['--json', 'share', '--broker', broker_address, '--allow-private'])

        sharing = self.wait_for_sharing_object(share)
        self.assert_sharing_object(sharing, broker_address)
        self.assertFalse(any('starting broker' in line for line in share.lines('stdout')))

        ticket = sharing['ticket']
        registered = share.wait_for_json('stderr', lambda line: 'sharing' in line['message'])
        self.assertIsNotNone(registered, share.describe())
        self.assert_fetch_through(broker_address, ticket['session_id'], ticket['token'],
                                  self.start_target())
        self.assertEqual(share.stop(), 0, share.describe())

    def test_session_ids_differ(self):
        first = self.start(['--json', 'share', '--listen', f'{LOOPBACK}:0'])
        second = self.start(['--json', 'share', '--listen', f'{LOOPBACK}:0'])

        first_id = self.wait_for_sharing_object(first)['ticket']['session_id']
        second_id = self.wait_for_sharing_object(second)['ticket']['session_id']
        self.assertNotEqual(first_id, second_id)

    def test_listen_and_broker_conflict_exit_2(self):
        result = run(['share', '--listen', f'{LOOPBACK}:0', '--broker', f'{LOOPBACK}:8787'])

        self.assert_usage_error(result, '--listen', '--broker')

    def test_invalid_broker_exit_2(self):
        result = run(['share', '--broker', LOOPBACK])

        self.assert_usage_error(result, LOOPBACK)


if __name__ == '__main__':
    unittest.main()
