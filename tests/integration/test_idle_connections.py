"""Idle connections: the broker closes connections that never finish a head,
but an idle tunnel and an idle provider stay up."""

import socket
import time
import unittest

import swarm_harness as harness

# Longer than the 30 s the broker gives a connection to send a complete head
# or control line, so that a timeout applied to the wrong connections shows.
IDLE_SECONDS = 40


class IdleConnectionsTest(harness.SwarmTestCase):

    def test_idle_tunnel_and_provider_survive(self):
        broker, provider, target, session_id, token = self.share_session(
            session_id='idle', broker_kwargs={'open_timeout': 2})
        fake = self.start_fake_provider(broker.address, 'idle-fake', 'fake-token')
        self.assertEqual(fake.registration, 'OK')

        tunnel = harness.ProxyClient(broker.address, timeout=20)
        self.addCleanup(tunnel.close)
        tunnel.send(harness.build_request('CONNECT', target.authority, [
            f'Host: {target.authority}', harness.proxy_authorization(session_id, token)]))
        established = tunnel.read_response('CONNECT')
        self.assertEqual(established.status, 200, established.describe())

        unfinished = socket.create_connection((broker.host, broker.port), timeout=5)
        self.addCleanup(unfinished.close)
        unfinished.sendall(b'GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\n')

        time.sleep(IDLE_SECONDS)

        tunnel.send(f'GET /name HTTP/1.1\r\nHost: {target.authority}\r\n\r\n'.encode())
        response = tunnel.read_response()
        self.assertEqual(response.body, b'target', 'the idle tunnel was cut')

        after = harness.proxy_get(broker.address, target.url('/name'), session_id, token)
        self.assertEqual(after.status, 200, after.describe())
        opens_before = len(fake.lines)
        harness.proxy_get(broker.address, target.url('/name'), 'idle-fake', 'fake-token',
                          timeout=30)
        self.assertEqual(len(fake.lines), opens_before + 1,
                         'the idle fake provider lost its session')

        unfinished.settimeout(1)
        try:
            leftover = unfinished.recv(1)
        except socket.timeout:
            leftover = None
        except ConnectionResetError:
            leftover = b''
        self.assertIsNotNone(leftover, 'a connection with an unfinished head is still open')


if __name__ == '__main__':
    unittest.main(verbosity=2)
