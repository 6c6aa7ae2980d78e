"""swarm-proxy --help, --version and the handling of bad command lines."""

import json
import unittest

from cli_helpers import CliTestCase, run

SUBCOMMANDS = ['broker', 'provider', 'ticket', 'share']


class UsageTest(CliTestCase):

    def test_help_exits_zero(self):
        result = run(['--help'])

        self.assertEqual(result.returncode, 0, result.stderr)
        for subcommand in SUBCOMMANDS:
            self.assertIn(subcommand, result.stdout)
        self.assertIn('Exit status', result.stdout)
        self.assertIn('--json', result.stdout)
        self.assertIn('--no-gui', result.stdout)

    def test_subcommand_help_lists_options(self):
        expected_options = {
            'broker': ['--listen', '--open-timeout', 'SECONDS'],
            'provider': ['--broker', '--session-id', '--token', '--token-file', '--ticket',
                         '--allow-private', 'process list', 'SWARM_PROXY_TOKEN'],
            'ticket': ['--session-id', '--broker', '--expires-at-unix', '--ttl', '--out'],
            'share': ['--broker', '--listen', '--allow-private'],
        }
        for subcommand, options in expected_options.items():
            with self.subTest(subcommand=subcommand):
                result = run([subcommand, '--help'])

                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertIn(f'swarm-proxy {subcommand}', result.stdout)
                for option in options + ['--json', 'Exit status']:
                    self.assertIn(option, result.stdout)

    def test_help_lists_exit_statuses(self):
        result = run(['ticket', '--help'])

        self.assertRegex(result.stdout, r'(?m)^\s+0\s+success')
        self.assertRegex(result.stdout, r'(?m)^\s+1\s+runtime failure')
        self.assertRegex(result.stdout, r'(?m)^\s+2\s+usage error')

    def test_version_text(self):
        result = run(['--version'])

        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r'^swarm-proxy \S+\n$')

    def test_version_json(self):
        result = run(['--json', '--version'])

        self.assertEqual(result.returncode, 0, result.stderr)
        version = json.loads(result.stdout)
        self.assertEqual(version['status'], 'ok')
        self.assertTrue(version['version'])

    def test_unknown_subcommand_exit_2(self):
        result = run(['frobnicate'])

        self.assert_usage_error(result, 'frobnicate', '--help')

    def test_unknown_global_option_exit_2(self):
        result = run(['--frobnicate', 'ticket'])

        self.assert_usage_error(result, '--frobnicate')

    def test_unknown_subcommand_option_exit_2(self):
        for subcommand in SUBCOMMANDS:
            with self.subTest(subcommand=subcommand):
                result = run([subcommand, '--frobnicate'])

                self.assert_usage_error(result, '--frobnicate', f'swarm-proxy {subcommand} --help')

    def test_extra_argument_exit_2(self):
        result = run(['ticket', '--session-id', 'ci', '--broker', '127.0.0.1:8787', 'stray'])

        self.assert_usage_error(result, 'stray')

    def test_missing_option_value_exit_2(self):
        result = run(['ticket', '--session-id'])

        self.assert_usage_error(result, '--session-id')

    def test_no_gui_with_subcommand_exit_2(self):
        result = run(['--no-gui', 'ticket', '--session-id', 'ci', '--broker', '127.0.0.1:8787'])

        self.assert_usage_error(result, '--no-gui')

    def test_json_error_is_one_object(self):
        for args in (['--json', 'ticket', '--frobnicate'],
                     ['ticket', '--frobnicate', '--json'],
                     ['--json', 'frobnicate']):
            with self.subTest(args=args):
                result = run(args)

                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertEqual(result.stdout, '')
                lines = result.stderr.splitlines()
                self.assertEqual(len(lines), 1, result.stderr)
                error = json.loads(lines[0])
                self.assertEqual(error['status'], 'error')
                self.assertIn('frobnicate', error['message'])


if __name__ == '__main__':
    unittest.main()
