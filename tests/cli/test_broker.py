"""swarm-proxy broker: start lines, the bound port, signals and bad input."""

import json
import signal
import socket
import unittest

from cli_helpers import LOOPBACK, CliTestCase, run


class BrokerUsageTest(CliTestCase):

    def test_listen_without_port_exit_2(self):
        result = run(['broker', '--listen', LOOPBACK])

        self.assert_usage_error(result, LOOPBACK, 'port')

    def test_invalid_open_timeout_exit_2(self):
        for value in ('0', '-1', 'ten', '1.5', '99999'):
            with self.subTest(value=value):
                result = run(['broker', '--listen', f'{LOOPBACK}:0', '--open-timeout', value])

                self.assert_usage_error(result, '--open-timeout', value)


class BrokerRunTest(CliTestCase):

    def test_port_zero_prints_bound_port(self):
        broker = self.start(['broker', '--listen', f'{LOOPBACK}:0', '--open-timeout', '5'])

        listening = broker.wait_for_line('stdout', r'^broker listening on (\S+):(\d+)$')
        self.assertIsNotNone(listening, broker.describe())
        self.assertEqual(broker.lines('stdout')[0], f'starting broker on {LOOPBACK}:0')
        self.assertEqual(listening.group(1), LOOPBACK)
        port = int(listening.group(2))
        self.assertNotEqual(port, 0)
        with socket.create_connection((LOOPBACK, port), timeout=5):
            pass

    def test_json_start_lines(self):
        broker = self.start(['broker', '--json', '--listen', f'{LOOPBACK}:0'])

        listening = broker.wait_for_json('stdout', lambda line: line['message'] == 'broker listening')
        self.assertIsNotNone(listening, broker.describe())
        starting = json.loads(broker.lines('stdout')[0])
        self.assertEqual(starting, {'status': 'ok', 'message': 'starting broker',
                                    'listen': f'{LOOPBACK}:0'})
        self.assertEqual(listening['status'], 'ok')
        self.assertRegex(listening['listen'], r'^127\.0\.0\.1:[1-9]\d*$')

    def test_sigterm_exit_0(self):
        broker, address = self.start_broker()

        self.assertEqual(broker.stop(signal.SIGTERM), 0, broker.describe())

    def test_sigint_exit_0(self):
        broker, address = self.start_broker()

        self.assertEqual(broker.stop(signal.SIGINT), 0, broker.describe())

    def test_json_log_lines_are_objects(self):
        broker = self.start(['--json', 'broker', '--listen', f'{LOOPBACK}:0'])
        self.assertIsNotNone(broker.wait_for_json('stdout',
                                                  lambda line: line['message'] == 'broker listening'),
                             broker.describe())

        self.assertEqual(broker.stop(), 0, broker.describe())

        stderr = broker.lines('stderr')
        self.assertTrue(stderr, 'stopping should be logged')
        for line in stderr:
            record = json.loads(line)
            self.assertEqual(set(record), {'time', 'level', 'domain', 'message'}, line)
            self.assertRegex(record['time'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d')
        self.assertTrue(any('SIGTERM' in json.loads(line)['message'] for line in stderr))

    def test_sigusr1_lists_sessions_json(self):
        broker = self.start(['broker', '--json', '--listen', f'{LOOPBACK}:0'])
        listening = broker.wait_for_json('stdout', lambda line: line['message'] == 'broker listening')
        self.assertIsNotNone(listening, broker.describe())
        provider = self.start(['provider', '--broker', listening['listen'],
                               '--session-id', 'listed-session', '--token', 'listed-token'])
        self.assertIsNotNone(provider.wait_for_line('stderr', r'sharing: session listed-session'),
                             provider.describe())

        broker.popen.send_signal(signal.SIGUSR1)
        report = broker.wait_for_json('stdout', lambda line: line['message'] == 'sessions')

        self.assertIsNotNone(report, broker.describe())
        self.assertEqual(report['status'], 'ok')
        self.assertEqual([session['session_id'] for session in report['sessions']],
                         ['listed-session'])
        self.assertEqual(report['sessions'][0]['tunnels'], [])
        self.assertNotIn('listed-token', '\n'.join(broker.lines('stdout')))

    def test_address_in_use_exit_1(self):
        with socket.socket() as occupant:
            occupant.bind((LOOPBACK, 0))
            occupant.listen()
            address = f'{LOOPBACK}:{occupant.getsockname()[1]}'

            result = run(['broker', '--listen', address])

        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(address, result.stderr)
        self.assertIn('--listen', result.stderr)


if __name__ == '__main__':
    unittest.main()
