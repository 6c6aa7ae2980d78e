"""The control and data lines of the wire protocol, spoken by hand.

BrokerWireTest plays a provider against the real broker, and
ProviderWireTest plays a broker against the real provider, so that either
side is checked against the protocol rather than against its own partner.
"""

import concurrent.futures
import socket
import threading
import time
import unittest

import swarm_harness as harness

SESSION = 'wire-session'
TOKEN = 'wire-token'


def pump(source, destination):
    """Copy bytes one way until EOF, then pass the EOF on."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            destination.sendall(data)
    except OSError:
        pass
    try:
        destination.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def bridge(first, second):
    """Relay both ways in background threads, as a provider or broker would."""
    for source, destination in ((first, second), (second, first)):
        threading.Thread(target=pump, args=(source, destination), daemon=True).start()


class BrokerWireTest(harness.SwarmTestCase):
    OPEN_TIMEOUT = 3

    def setUp(self):
        super().setUp()
        self.broker = self.start_broker(open_timeout=self.OPEN_TIMEOUT)
        self.target = self.start_target('target')
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=8)
        self.addCleanup(self.executor.shutdown, wait=False, cancel_futures=True)

    def connect(self):
        host, port = harness.split_host_port(self.broker.address)
        connection = harness.BufferedConnection(
            socket.create_connection((host, port), timeout=10), timeout=10)
        self.addCleanup(connection.close)
        return connection

    def register(self, session_id=SESSION, token=TOKEN, ending='\n'):
        control = self.connect()
        control.send(f'PROVIDER {session_id} {token}{ending}'.encode())
        return control, control.read_text_line()

    def request_later(self, path='/name', session_id=SESSION, token=TOKEN):
        return self.executor.submit(harness.proxy_get, self.broker.address,
                                    self.target.url(path), session_id, token, 15)

    def read_open(self, control):
        fields = control.read_text_line().split(' ')
        self.assertEqual(len(fields), 4, f'not an OPEN line: {fields}')
        self.assertEqual(fields[0], 'OPEN')
        return fields[1], fields[2], fields[3]

    def attach_data(self, nonce, session_id=SESSION, token=TOKEN):
        data = self.connect()
        data.send(f'DATA {session_id} {token} {nonce}\n'.encode())
        return data, data.read_text_line()

    def serve_tunnel(self, data, host, port):
        target = socket.create_connection((host, int(port)), timeout=10)
        self.addCleanup(target.close)
        if data.buffer:
            target.sendall(bytes(data.buffer))
            data.buffer.clear()
        bridge(data.sock, target)

    def test_registration_reply_is_ok(self):
        _, reply = self.register()
        self.assertEqual(reply, 'OK')

    def test_registration_with_crlf(self):
        _, reply = self.register(ending='\r\n')
        self.assertEqual(reply, 'OK')

    def test_registration_sent_byte_by_byte(self):
        control = self.connect()
        for byte in f'PROVIDER {SESSION} {TOKEN}\n'.encode():
            control.send(bytes([byte]))
            time.sleep(0.01)
        self.assertEqual(control.read_text_line(), 'OK')

    def test_worker_request_sent_byte_by_byte(self):
        # POST and PUT start like PROVIDER, DELETE like DATA: the broker must
        # not decide on a connection's kind from a first byte or two.
        control, _ = self.register()
        for method in ('POST', 'PUT', 'DELETE'):
            with self.subTest(method=method):
                request = harness.build_request(method, self.target.url('/echo'), [
                    f'Host: {self.target.authority}',
                    harness.proxy_authorization(SESSION, TOKEN), 'Content-Length: 0',
                    'Connection: close'])
                worker = self.connect()
                for byte in request:
                    worker.send(bytes([byte]))
                    time.sleep(0.002)
                nonce, host, port = self.read_open(control)
                control.send(f'FAILED {nonce} reached the open step\n'.encode())
                response = worker.read_response()
                self.assertEqual(response.status, 502, response.describe())
                self.assertIn(b'reached the open step', response.body)

    def test_tunnel_in_version_1_order(self):
        control, _ = self.register()
        pending = self.request_later()
        nonce, host, port = self.read_open(control)
        self.assertEqual((host, port), ('127.0.0.1', str(self.target.port)))

        data, reply = self.attach_data(nonce)
        self.assertEqual(reply, 'OK')
        control.send(f'OPENED {nonce}\n'.encode())
        self.serve_tunnel(data, host, port)

        response = pending.result(timeout=20)
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'target')

    def test_tunnel_with_opened_first(self):
        control, _ = self.register()
        pending = self.request_later()
        nonce, host, port = self.read_open(control)
        control.send(f'OPENED {nonce}\n'.encode())
        data, reply = self.attach_data(nonce)
        self.assertEqual(reply, 'OK')
        self.serve_tunnel(data, host, port)

        response = pending.result(timeout=20)
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'target')

    def test_failed_gives_502_with_reason(self):
        control, _ = self.register()
        pending = self.request_later()
        nonce, _, _ = self.read_open(control)
        control.send(f'FAILED {nonce} the target is on fire\n'.encode())
        response = pending.result(timeout=20)
        self.assertEqual(response.status, 502, response.describe())
        self.assertIn(b'the target is on fire', response.body)

    def test_data_unknown_session(self):
        data, reply = self.attach_data('0123456789abcdef', session_id='nobody')
        self.assertEqual(reply, 'ERR unknown-session')
        self.assertTrue(data.closed_by_peer(timeout=5), 'connection left open after ERR')

    def test_data_wrong_token(self):
        self.register()
        data, reply = self.attach_data('0123456789abcdef', token='not-the-token')
        self.assertEqual(reply, 'ERR forbidden')
        self.assertTrue(data.closed_by_peer(timeout=5), 'connection left open after ERR')

    def test_data_without_pending_open(self):
        self.register()
        data, reply = self.attach_data('0123456789abcdef')
        self.assertEqual(reply, 'ERR no-pending-open')
        self.assertTrue(data.closed_by_peer(timeout=5), 'connection left open after ERR')

    def test_data_after_open_timed_out(self):
        control, _ = self.register()
        pending = self.request_later()
        nonce, _, _ = self.read_open(control)
        response = pending.result(timeout=self.OPEN_TIMEOUT + 10)
        self.assertEqual(response.status, 504, response.describe())
        _, reply = self.attach_data(nonce)
        self.assertEqual(reply, 'ERR no-pending-open')

    def test_data_attached_twice(self):
        control, _ = self.register()
        pending = self.request_later()
        nonce, host, port = self.read_open(control)
        data, reply = self.attach_data(nonce)
        self.assertEqual(reply, 'OK')
        _, second_reply = self.attach_data(nonce)
        self.assertEqual(second_reply, 'ERR no-pending-open')
        control.send(f'OPENED {nonce}\n'.encode())
        self.serve_tunnel(data, host, port)
        self.assertEqual(pending.result(timeout=20).body, b'target')

    def test_control_line_too_long(self):
        control = self.connect()
        try:
            control.send(b'PROVIDER ' + b'x' * 9000 + b' token\n')
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            # An ERR line before the close is allowed; an OK is not.
            reply = control.read_text_line()
        except (EOFError, ConnectionResetError):
            reply = None
        self.assertNotEqual(reply, 'OK')
        self.assertTrue(reply is None or control.closed_by_peer(timeout=5),
                        f'connection left open after {reply!r}')

    def test_unknown_control_line_ignored(self):
        control, _ = self.register()
        control.send(b'HEARTBEAT 1\n')
        pending = self.request_later()
        nonce, _, _ = self.read_open(control)
        control.send(f'FAILED {nonce} not this time\n'.encode())
        self.assertEqual(pending.result(timeout=20).status, 502)

    def test_nonces_are_distinct(self):
        control, _ = self.register()
        nonces = []
        for _ in range(5):
            pending = self.request_later()
            nonce, _, _ = self.read_open(control)
            control.send(f'FAILED {nonce} counted\n'.encode())
            pending.result(timeout=20)
            nonces.append(nonce)
        self.assertEqual(len(set(nonces)), len(nonces), f'nonces repeat: {nonces}')
        self.assertTrue(all(len(nonce) >= 16 for nonce in nonces),
                        f'nonces shorter than 16 characters: {nonces}')

    def test_takeover_with_other_token_rejected(self):
        first, reply = self.register()
        self.assertEqual(reply, 'OK')
        second, second_reply = self.register(token='another-token')
        self.assertTrue(second_reply.startswith('ERR'),
                        f'a second provider with another token got {second_reply!r}')

        # The first provider still serves the session.
        pending = self.request_later()
        nonce, _, _ = self.read_open(first)
        first.send(f'FAILED {nonce} still here\n'.encode())
        self.assertIn(b'still here', pending.result(timeout=20).body)

    def test_reregistration_with_same_token(self):
        # A provider whose old control connection went silent comes back with
        # the same credentials; the new connection has to get the OPENs.
        first, _ = self.register()
        second, reply = self.register()
        self.assertEqual(reply, 'OK')
        pending = self.request_later()
        nonce, _, _ = self.read_open(second)
        second.send(f'FAILED {nonce} from the second\n'.encode())
        self.assertIn(b'from the second', pending.result(timeout=20).body)

    def test_session_ends_with_control_connection(self):
        control, _ = self.register()
        control.close()

        def unregistered():
            response = harness.proxy_get(self.broker.address, self.target.url('/name'),
                                         SESSION, TOKEN)
            return response.status == 503

        harness.wait_until(unregistered, timeout=5, interval=0.1,
                           message='503 after the provider left')


class ProviderWireTest(harness.SwarmTestCase):

    def setUp(self):
        super().setUp()
        self.fake = self.start_fake_broker()
        self.target = self.start_target('target')
        self.provider = self.start_provider(self.fake.address, SESSION, TOKEN)
        self.control = self.accept_registration()

    def accept_registration(self, session_id=SESSION, token=TOKEN):
        control, line = self.fake.next_connection()
        fields = (line or '').split(' ')
        self.assertEqual(fields[:3], ['PROVIDER', session_id, token], f'first line {line!r}')
        control.send(b'OK\n')
        return control

    def expect_data(self, nonce, session_id=SESSION, token=TOKEN):
        data, line = self.fake.next_connection()
        self.assertEqual((line or '').split(' ')[:4], ['DATA', session_id, token, nonce],
                         f'first line {line!r}')
        return data

    def assert_silent(self, connection, seconds, description):
        connection.sock.settimeout(seconds)
        try:
            data = connection.sock.recv(4096)
        except socket.timeout:
            data = None
        finally:
            connection.sock.settimeout(connection.timeout)
        self.assertIsNone(data, f'{description}: got {data!r}')

    def fetch_through(self, data, path='/name'):
        data.send(f'GET {path} HTTP/1.1\r\nHost: {self.target.authority}\r\n'
                  f'Connection: close\r\n\r\n'.encode())
        return data.read_response()

    def test_open_attaches_data_before_opened(self):
        self.control.send(f'OPEN n1 127.0.0.1 {self.target.port}\n'.encode())
        data = self.expect_data('n1')
        self.assert_silent(self.control, 0.5, 'OPENED before the data connection was attached')
        data.send(b'OK\n')
        self.assertEqual(self.control.read_text_line(), 'OPENED n1')
        response = self.fetch_through(data)
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'target')

    def test_refused_target_reported_failed(self):
        closed_port = harness.free_port()
        self.control.send(f'OPEN n2 127.0.0.1 {closed_port}\n'.encode())
        fields = self.control.read_text_line().split(' ', 2)
        self.assertEqual(fields[:2], ['FAILED', 'n2'])
        self.assertEqual(len(fields), 3, 'FAILED without a reason')

    def test_private_destinations_rejected(self):
        self.start_provider(self.fake.address, 'strict', TOKEN, allow_private=False,
                            name='strict-provider')
        control = self.accept_registration(session_id='strict')
        before = len(self.target.requests)
        for index, host in enumerate(['127.0.0.1', '127.0.0.2', 'localhost', '::1',
                                      '::ffff:127.0.0.1', '0.0.0.0']):
            with self.subTest(host=host):
                control.send(f'OPEN p{index} {host} {self.target.port}\n'.encode())
                fields = control.read_text_line().split(' ', 2)
                self.assertEqual(fields[:2], ['FAILED', f'p{index}'])
                self.assertIn('--allow-private', fields[2] if len(fields) > 2 else '')
        self.assertEqual(len(self.target.requests), before, 'a private target was contacted')

    def test_slow_attach_does_not_block_next_open(self):
        self.control.send(f'OPEN n4 127.0.0.1 {self.target.port}\n'.encode())
        stalled = self.expect_data('n4')
        # The OK for n4 is held back while n5 goes through completely.
        self.control.send(f'OPEN n5 127.0.0.1 {self.target.port}\n'.encode())
        data = self.expect_data('n5')
        data.send(b'OK\n')
        self.assertEqual(self.control.read_text_line(), 'OPENED n5')
        self.assertEqual(self.fetch_through(data).body, b'target')

        stalled.send(b'OK\n')
        self.assertEqual(self.control.read_text_line(), 'OPENED n4')
        self.assertEqual(self.fetch_through(stalled).body, b'target')

    def test_bad_open_lines_survived(self):
        for index, line in enumerate(['OPEN b1 127.0.0.1 0', 'OPEN b2 127.0.0.1 65536',
                                      'OPEN b3 127.0.0.1 http', 'OPEN b4 [::1] 80',
                                      'OPEN b5', 'OPEN', 'OPEN b6 127.0.0.1 80 extra']):
            self.control.send(line.encode() + b'\n')
        # Whatever the provider made of those, it still serves a good OPEN,
        # and answers none of the bad ones with OPENED.
        self.control.send(f'OPEN good 127.0.0.1 {self.target.port}\n'.encode())
        data = None
        while data is None:
            connection, line = self.fake.next_connection()
            fields = (line or '').split(' ')
            self.assertEqual(fields[:3], ['DATA', SESSION, TOKEN], f'first line {line!r}')
            if fields[3] == 'good':
                data = connection
            else:
                connection.send(b'ERR no-pending-open\n')
        data.send(b'OK\n')
        while True:
            line = self.control.read_text_line()
            self.assertFalse(line.startswith('OPENED b'), f'control line {line!r}')
            if line == 'OPENED good':
                break
        self.assertTrue(self.provider.running(), 'the provider exited')
        self.assertEqual(self.fetch_through(data).body, b'target')

    def test_control_line_too_long_from_broker(self):
        self.control.send(b'OPEN ' + b'x' * 9000 + b'\n')
        control = self.accept_registration()
        self.assertTrue(self.provider.running(), 'the provider exited')
        control.send(f'OPEN n10 127.0.0.1 {self.target.port}\n'.encode())
        self.expect_data('n10')

    def test_unknown_control_line_ignored(self):
        self.control.send(b'HELLO from a newer broker\n')
        self.control.send(f'OPEN n6 127.0.0.1 {self.target.port}\n'.encode())
        data = self.expect_data('n6')
        data.send(b'OK\n')
        self.assertEqual(self.control.read_text_line(), 'OPENED n6')

    def test_rejected_data_connection_not_opened(self):
        self.control.send(f'OPEN n7 127.0.0.1 {self.target.port}\n'.encode())
        data = self.expect_data('n7')
        data.send(b'ERR no-pending-open\n')
        self.assertTrue(data.closed_by_peer(timeout=5), 'data connection kept after ERR')
        # A FAILED for the nonce is harmless to the broker; OPENED is wrong.
        self.control.sock.settimeout(1.0)
        try:
            line = self.control.read_text_line()
        except socket.timeout:
            line = ''
        self.assertFalse(line.startswith('OPENED'), f'control line {line!r}')

    def test_ipv6_target_without_brackets(self):
        if not harness.can_bind('::1'):
            self.skipTest('cannot bind ::1')
        six = self.start_target('six', host='::1')
        self.control.send(f'OPEN n8 ::1 {six.port}\n'.encode())
        data = self.expect_data('n8')
        data.send(b'OK\n')
        self.assertEqual(self.control.read_text_line(), 'OPENED n8')
        self.assertEqual(self.fetch_through(data).body, b'six')

    def test_reconnects_after_control_closed(self):
        self.control.close()
        started = time.monotonic()
        control = self.accept_registration()
        elapsed = time.monotonic() - started
        # The first retry comes after 1 s plus up to 25 % jitter.
        self.assertLess(elapsed, 5, f'reconnected only after {elapsed:.1f} s')
        control.send(f'OPEN n9 127.0.0.1 {self.target.port}\n'.encode())
        self.expect_data('n9')

    def test_registration_rejected(self):
        self.control.close()
        control, _ = self.fake.next_connection()
        control.send(b'ERR forbidden\n')
        harness.wait_until(lambda: b'forbidden' in self.provider.output(), 5,
                           message='the rejection reason in the provider log')
        self.assertIn(b'forbidden', self.provider.output())


if __name__ == '__main__':
    unittest.main(verbosity=2)
