"""CONNECT tunnels carrying plain TCP rather than HTTP: small-write latency,
half-close started by the target, and routing of many sessions."""

import socket
import statistics
import struct
import time
import unittest

import swarm_harness as harness

ROUND_TRIPS = 40
# On Linux 6.18 loopback, a trial relay without TCP_NODELAY took a median of
# 44 ms per round trip (Nagle's algorithm waiting for a delayed ACK), and the
# real broker and provider about 2.5 ms, the 2 ms pause included.
MAX_MEDIAN_ROUND_TRIP = 0.020  # seconds


def answer_messages(sock, record):
    """Read 8-byte messages and send each back whole.  No reply leaves before
    the whole message is in, so no early ACK rides on a reply, and a hop that
    delays small writes shows up as a slow round trip."""
    pending = b''
    while True:
        data = sock.recv(65536)
        if not data:
            return
        pending += data
        while len(pending) >= 8:
            sock.sendall(pending[:8])
            pending = pending[8:]


def greet_then_count(sock, record):
    """Send a greeting, end the write side, then count what still arrives."""
    sock.sendall(b'hello from the target\n')
    sock.shutdown(socket.SHUT_WR)
    received = 0
    while True:
        data = sock.recv(65536)
        if not data:
            break
        received += len(data)
    record['received'] = received


def respond_partly(sock, record):
    """Promise a large body, send a little of it, and close."""
    request = b''
    while b'\r\n\r\n' not in request:
        data = sock.recv(65536)
        if not data:
            return
        request += data
    sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n' + b'p' * 1000)
    if record['index'] % 2 == 0:
        # SO_LINGER with a zero timeout turns close() into a reset.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))


class RawTunnelTest(harness.SwarmTestCase):

    def setUp(self):
        super().setUp()
        self.broker, self.provider, _, self.session_id, self.token = \
            self.share_session(session_id='raw-session')

    def open_tunnel(self, authority):
        client = harness.ProxyClient(self.broker.address, timeout=15)
        self.addCleanup(client.close)
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.send(harness.build_request('CONNECT', authority, [
            f'Host: {authority}', harness.proxy_authorization(self.session_id, self.token)]))
        established = client.read_response('CONNECT')
        self.assertEqual(established.status, 200, established.describe())
        return client

    def test_small_writes_not_delayed(self):
        target = self.start_raw_target(answer_messages)
        client = self.open_tunnel(target.authority)
        round_trips = []
        for index in range(ROUND_TRIPS):
            started = time.monotonic()
            # Two small writes and then a read: the pattern that stalls on
            # Nagle's algorithm when a hop leaves TCP_NODELAY off.  The pause
            # keeps the two writes from arriving at the broker in one read.
            client.send(b'ping')
            time.sleep(0.002)
            client.send(b'pong')
            echoed = client.read_exact(8)
            round_trips.append(time.monotonic() - started)
            self.assertEqual(echoed, b'pingpong', f'round trip {index}')
        median = statistics.median(round_trips)
        self.assertLess(median, MAX_MEDIAN_ROUND_TRIP,
                        f'median round trip {median * 1000:.1f} ms, '
                        f'max {max(round_trips) * 1000:.1f} ms')

    def test_target_half_close(self):
        upload = 1024 * 1024 + 3
        target = self.start_raw_target(greet_then_count)
        client = self.open_tunnel(target.authority)
        self.assertEqual(client.read_line(), b'hello from the target\n')
        self.assertTrue(client.closed_by_peer(timeout=5),
                        'the target\'s FIN did not reach the worker')

        # The worker's direction stays open after the target's FIN.
        client.send(b'u' * upload)
        client.shutdown_write()
        harness.wait_until(lambda: target.records and target.records[0].get('done'), 10,
                           message='the target to see the end of the upload')
        self.assertEqual(target.records[0].get('received'), upload,
                         f'target record: {target.records[0]}')

    def test_target_dies_mid_response(self):
        target = self.start_raw_target(respond_partly)
        for attempt in range(2):
            with self.subTest(reset=attempt == 0):
                client = harness.ProxyClient(self.broker.address, timeout=15)
                self.addCleanup(client.close)
                url = f'http://{target.authority}/partial'
                client.send(harness.build_request('GET', url, [
                    f'Host: {target.authority}',
                    harness.proxy_authorization(self.session_id, self.token)]))
                head = client.read_response_head()
                self.assertEqual(head.status, 200, head.describe())
                started = time.monotonic()
                received = b''
                try:
                    received = client.read_until_close()
                except (ConnectionResetError, TimeoutError):
                    pass
                elapsed = time.monotonic() - started
                self.assertLess(len(received), 1000000, 'more body than the target sent')
                self.assertLess(elapsed, 5, f'the worker connection stayed open {elapsed:.1f} s')

    def test_many_sessions_routed_apart(self):
        fakes = {}
        for index in range(10):
            session_id = f'routed-{index}'
            fakes[session_id] = self.start_fake_provider(self.broker.address, session_id,
                                                         f'token-{index}')
        for session_id, fake in fakes.items():
            self.assertEqual(fake.registration, 'OK', session_id)

        for index, session_id in enumerate(fakes):
            with self.subTest(session_id=session_id):
                client = harness.ProxyClient(self.broker.address, timeout=15)
                self.addCleanup(client.close)
                client.send(harness.build_request('GET', 'http://127.0.0.1:9/', [
                    'Host: 127.0.0.1:9', harness.proxy_authorization(session_id,
                                                                     f'token-{index}')]))
                fake = fakes[session_id]
                opens = harness.wait_until(
                    lambda: [line for line in fake.lines if line.startswith('OPEN ')], 10,
                    message=f'an OPEN for {session_id}')
                nonce = opens[0].split(' ')[1]
                fake.connection.send(f'FAILED {nonce} answered by {session_id}\n'.encode())
                response = client.read_response()
                self.assertEqual(response.status, 502, response.describe())
                self.assertIn(f'answered by {session_id}'.encode(), response.body)

        for session_id, fake in fakes.items():
            opens = [line for line in fake.lines if line.startswith('OPEN ')]
            self.assertEqual(len(opens), 1, f'OPEN lines sent to {session_id}: {opens}')

if __name__ == '__main__':
    unittest.main(verbosity=2)
