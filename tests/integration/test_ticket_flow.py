"""Tickets end to end: a ticket file drives the provider, its expiry stops
sharing, and `share` starts everything in one step."""

import json
import os
import signal
import subprocess
import time
import unittest

import swarm_harness as harness


class TicketFlowTest(harness.SwarmTestCase):

    def setUp(self):
        super().setUp()
        self.target = self.start_target('target')

    def write_ticket(self, session_id, broker_address, extra_args=()):
        path = os.path.join(self.workdir, 'tickets', f'{session_id}.json')
        result = subprocess.run(
            [harness.swarm_proxy_path(), '--json', 'ticket', '--session-id', session_id,
             '--broker', broker_address, '--out', path, *extra_args],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors='replace'))
        status = json.loads(result.stdout)
        self.assertEqual(status['ticket_path'], path)
        with open(path) as ticket_file:
            ticket = json.load(ticket_file)
        self.assertEqual(status['ticket'], ticket)
        return path, ticket

    def start_ticket_provider(self, path, name='provider'):
        provider = harness.ManagedProcess(
            name, [harness.swarm_proxy_path(), 'provider', '--ticket', path, '--allow-private'],
            self.workdir)
        self._processes.append(provider)
        self.addCleanup(provider.kill)
        return provider

    def test_provider_from_ticket_file(self):
        broker = self.start_broker()
        path, ticket = self.write_ticket('file-session', broker.address)
        self.assertEqual(ticket['broker_addr'], broker.address)
        self.start_ticket_provider(path)
        response = harness.wait_for_session(broker.address, ticket['session_id'],
                                            ticket['token'], self.target.url('/name'))
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'target')

    def test_ticket_with_unknown_field(self):
        broker = self.start_broker()
        path, ticket = self.write_ticket('extra-session', broker.address)
        ticket['added_in_a_later_version'] = {'anything': [1, 2]}
        with open(path, 'w') as ticket_file:
            json.dump(ticket, ticket_file)
        self.start_ticket_provider(path)
        response = harness.wait_for_session(broker.address, ticket['session_id'],
                                            ticket['token'], self.target.url('/name'))
        self.assertEqual(response.status, 200, response.describe())

    def test_ticket_expiry_stops_sharing(self):
        broker = self.start_broker()
        path, ticket = self.write_ticket('short-session', broker.address, ['--ttl', '4s'])
        self.assertIsNotNone(ticket['expires_at_unix'])
        provider = self.start_ticket_provider(path)
        first = harness.wait_for_session(broker.address, ticket['session_id'], ticket['token'],
                                         self.target.url('/name'))
        self.assertEqual(first.status, 200, first.describe())

        def unregistered():
            response = harness.proxy_get(broker.address, self.target.url('/name'),
                                         ticket['session_id'], ticket['token'])
            return response.status == 503

        seconds_left = ticket['expires_at_unix'] - time.time()
        harness.wait_until(unregistered, seconds_left + 10, interval=0.25,
                           message='503 after the ticket expired')
        self.assertGreaterEqual(time.time(), ticket['expires_at_unix'] - 1,
                                'sharing stopped long before the expiry')
        harness.wait_until(lambda: not provider.running(), 10,
                           message='the provider to exit after the expiry')
        self.assertEqual(provider.popen.returncode, 1, provider.tail())

    def test_expired_ticket_rejected_at_start(self):
        broker = self.start_broker()
        path, ticket = self.write_ticket('old-session', broker.address)
        ticket['expires_at_unix'] = int(time.time()) - 60
        with open(path, 'w') as ticket_file:
            json.dump(ticket, ticket_file)
        provider = self.start_ticket_provider(path)
        harness.wait_until(lambda: not provider.running(), 10,
                           message='the provider to exit on an expired ticket')
        self.assertEqual(provider.popen.returncode, 1, provider.tail())
        response = harness.proxy_get(broker.address, self.target.url('/name'),
                                     ticket['session_id'], ticket['token'])
        self.assertEqual(response.status, 503, response.describe())

    def test_share_in_one_step(self):
        share = harness.ManagedProcess(
            'share', [harness.swarm_proxy_path(), '--json', 'share',
                      '--listen', '127.0.0.1:0', '--allow-private'], self.workdir)
        self._processes.append(share)
        self.addCleanup(share.kill)

        def sharing_line():
            for line in share.output().splitlines():
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if message.get('message') == 'sharing':
                    return message
            if not share.running():
                raise RuntimeError(f'share exited with {share.popen.returncode}')
            return None

        message = harness.wait_until(sharing_line, 15, message='the "sharing" line of share')
        ticket = message['ticket']
        response = harness.wait_for_session(ticket['broker_addr'], ticket['session_id'],
                                            ticket['token'], self.target.url('/name'))
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'target')

        share.kill(signal.SIGTERM)
        self.assertEqual(share.popen.returncode, 0, 'share did not exit cleanly on SIGTERM')


if __name__ == '__main__':
    unittest.main(verbosity=2)
