"""Every error status of the broker, provoked for real.

Each case checks the status line, Connection: close, a text/plain body, that
the broker closes the connection afterwards, and for 407 the
Proxy-Authenticate challenge.
"""

import base64
import time
import unittest

import swarm_harness as harness

CHALLENGE = 'Basic realm="swarm-proxy"'


class ErrorStatusTest(harness.SwarmTestCase):

    def setUp(self):
        super().setUp()
        self.echo_target = self.start_target('echo-target')
        self.broker, self.provider, self.target, self.session_id, self.token = \
            self.share_session(session_id='status-session', target=self.echo_target)

    def send_raw(self, data, timeout=15):
        client = harness.ProxyClient(self.broker.address, timeout=timeout)
        self.addCleanup(client.close)
        client.send(data)
        return client, client.read_response()

    def get_with_headers(self, headers, url=None):
        url = url or self.target.url('/name')
        request = harness.build_request('GET', url, [f'Host: {self.target.authority}'] + headers)
        return self.send_raw(request)

    def authorized(self, session_id=None, token=None):
        return harness.proxy_authorization(session_id or self.session_id, token or self.token)

    def assert_407(self, headers):
        client, response = self.get_with_headers(headers)
        self.assert_error_response(response, 407, client)
        self.assertEqual(response.header('Proxy-Authenticate'), CHALLENGE, response.describe())

    def test_407_without_credentials(self):
        self.assert_407([])

    def test_407_not_basic_scheme(self):
        self.assert_407([f'Proxy-Authorization: Bearer {self.token}'])

    def test_407_bad_base64(self):
        self.assert_407(['Proxy-Authorization: Basic %%%not-base64%%%'])

    def test_407_no_colon(self):
        value = base64.b64encode(self.session_id.encode()).decode()
        self.assert_407([f'Proxy-Authorization: Basic {value}'])

    def test_407_empty_token(self):
        value = base64.b64encode(f'{self.session_id}:'.encode()).decode()
        self.assert_407([f'Proxy-Authorization: Basic {value}'])

    def test_407_on_connect(self):
        authority = self.target.authority
        client, response = self.send_raw(
            harness.build_request('CONNECT', authority, [f'Host: {authority}']))
        self.assert_error_response(response, 407, client)
        self.assertEqual(response.header('Proxy-Authenticate'), CHALLENGE, response.describe())

    def test_basic_scheme_is_case_insensitive(self):
        credentials = base64.b64encode(f'{self.session_id}:{self.token}'.encode()).decode()
        _, response = self.get_with_headers(
            [f'Proxy-Authorization: bAsIc {credentials}', 'Connection: close'])
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'echo-target')

    def test_403_wrong_token(self):
        client, response = self.get_with_headers(
            [self.authorized(token=self.token + 'x')])
        self.assert_error_response(response, 403, client)

    def test_403_wrong_token_on_connect(self):
        authority = self.target.authority
        client, response = self.send_raw(harness.build_request('CONNECT', authority, [
            f'Host: {authority}', self.authorized(token='wrong-token')]))
        self.assert_error_response(response, 403, client)

    def test_503_unknown_session(self):
        client, response = self.get_with_headers(
            [self.authorized(session_id='no-such-session')])
        self.assert_error_response(response, 503, client)

    def test_502_target_refused(self):
        closed_port = harness.free_port()
        url = f'http://127.0.0.1:{closed_port}/name'
        request = harness.build_request('GET', url, [f'Host: 127.0.0.1:{closed_port}',
                                                     self.authorized()])
        client, response = self.send_raw(request)
        self.assert_error_response(response, 502, client)

    def test_502_target_refused_on_connect(self):
        authority = f'127.0.0.1:{harness.free_port()}'
        client, response = self.send_raw(harness.build_request('CONNECT', authority, [
            f'Host: {authority}', self.authorized()]))
        self.assert_error_response(response, 502, client)

    def test_502_private_destination_rejected(self):
        token = harness.random_token()
        before = len(self.target.requests)
        self.start_provider(self.broker.address, 'strict-session', token,
                            allow_private=False, name='strict-provider')
        first = harness.wait_for_session(self.broker.address, 'strict-session', token,
                                         self.target.url('/name'))
        self.assertEqual(first.status, 502, first.describe())

        request = harness.build_request('GET', self.target.url('/name'), [
            f'Host: {self.target.authority}', harness.proxy_authorization('strict-session', token)])
        client, response = self.send_raw(request)
        self.assert_error_response(response, 502, client)
        body = response.body.decode('utf-8', 'replace')
        self.assertIn('127.0.0.1', body, 'the body does not name the rejected address')
        self.assertIn('--allow-private', body, 'the body does not name --allow-private')
        self.assertEqual(len(self.target.requests), before,
                         'the provider contacted a rejected destination')

    def test_400_malformed_request_line(self):
        cases = [
            b'THIS IS NOT HTTP\r\n\r\n',
            b'GET\r\n\r\n',
            b'GET http://127.0.0.1:1/ HTTP/1.1 trailing-field\r\n\r\n',
        ]
        for request in cases:
            with self.subTest(request=request):
                client, response = self.send_raw(request)
                self.assert_error_response(response, 400, client)

    def test_400_malformed_header(self):
        # libsoup's header parser skips some malformed lines but rejects a
        # head that contains a NUL byte.
        request = harness.build_request('GET', self.target.url('/name'), [
            f'Host: {self.target.authority}', self.authorized(), 'X-Broken: a\x00b'])
        client, response = self.send_raw(request)
        self.assert_error_response(response, 400, client)

    def test_400_content_length_with_chunked(self):
        before = len(self.target.requests)
        request = harness.build_request('POST', self.target.url('/echo'), [
            f'Host: {self.target.authority}', self.authorized(),
            'Content-Length: 5', 'Transfer-Encoding: chunked'], b'0\r\n\r\n')
        client, response = self.send_raw(request)
        self.assert_error_response(response, 400, client)
        self.assertEqual(len(self.target.requests), before, 'the target saw the request')

    def test_400_two_content_lengths(self):
        before = len(self.target.requests)
        request = harness.build_request('POST', self.target.url('/echo'), [
            f'Host: {self.target.authority}', self.authorized(),
            'Content-Length: 5', 'Content-Length: 6'], b'hello!')
        client, response = self.send_raw(request)
        self.assert_error_response(response, 400, client)
        self.assertEqual(len(self.target.requests), before, 'the target saw the request')

    def test_400_unknown_transfer_coding(self):
        request = harness.build_request('POST', self.target.url('/echo'), [
            f'Host: {self.target.authority}', self.authorized(),
            'Transfer-Encoding: gzip, chunked'], b'0\r\n\r\n')
        client, response = self.send_raw(request)
        self.assert_error_response(response, 400, client)

    def test_400_bad_connect_authority(self):
        for authority in ('127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:http', '127.0.0.1',
                          '[::1', ':8080'):
            with self.subTest(authority=authority):
                client, response = self.send_raw(harness.build_request('CONNECT', authority, [
                    f'Host: {authority}', self.authorized()]))
                self.assert_error_response(response, 400, client)

    def test_400_bad_content_length(self):
        for value in ('-1', 'abc', '5 5', '0x10'):
            with self.subTest(content_length=value):
                request = harness.build_request('POST', self.target.url('/echo'), [
                    f'Host: {self.target.authority}', self.authorized(),
                    f'Content-Length: {value}'], b'hello')
                client, response = self.send_raw(request)
                self.assert_error_response(response, 400, client)

    def test_501_origin_form_and_other_schemes(self):
        # The broker is a forward proxy only: a request for the broker itself
        # or for a scheme other than http:// cannot be served.
        for target in ('/name', 'ftp://127.0.0.1/file', 'https://127.0.0.1/'):
            with self.subTest(target=target):
                request = harness.build_request('GET', target, [
                    f'Host: {self.target.authority}', self.authorized()])
                client, response = self.send_raw(request)
                self.assert_error_response(response, 501, client)

    def head_of_size(self, size):
        """Build a GET head of exactly `size` bytes, empty line included."""
        head = harness.build_request('GET', self.target.url('/name'), [
            f'Host: {self.target.authority}', self.authorized(), 'X-Filler: '])
        filler = size - len(head)
        self.assertGreater(filler, 0)
        return head[:-4] + b'f' * filler + b'\r\n\r\n'

    def test_head_at_limit_accepted(self):
        client, response = self.send_raw(self.head_of_size(32768))
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'echo-target')

    def test_head_one_byte_over_limit(self):
        client, response = self.send_raw(self.head_of_size(32769))
        self.assert_error_response(response, 431, client)

    def test_malformed_chunk_size_400(self):
        # The head is already on its way upstream when the body turns out to
        # be broken, but the echo target waits for the body, so nothing of a
        # response has reached the worker and it gets a 400.
        for size_line in (b'fffffffffffffffffffffffff', b'-1', b'zz', b'5 5'):
            with self.subTest(size_line=size_line):
                request = harness.build_request('POST', self.target.url('/echo'), [
                    f'Host: {self.target.authority}', self.authorized(),
                    'Transfer-Encoding: chunked']) + size_line + b'\r\nhello\r\n0\r\n\r\n'
                client = harness.ProxyClient(self.broker.address, timeout=10)
                self.addCleanup(client.close)
                client.send(request)
                response = client.read_response()
                self.assert_error_response(response, 400, client)
                self.assertEqual(self.target.bodies, [], 'the target received a body')

    def test_431_head_too_large(self):
        filler = 'x' * (40 * 1024)
        request = harness.build_request('GET', self.target.url('/name'), [
            f'Host: {self.target.authority}', self.authorized(), f'X-Filler: {filler}'])
        client = harness.ProxyClient(self.broker.address, timeout=15)
        self.addCleanup(client.close)
        try:
            client.send(request)
        except (BrokenPipeError, ConnectionResetError):
            # The broker may answer and close before it has read everything;
            # the response must still be readable.
            pass
        response = client.read_response()
        self.assert_error_response(response, 431, client)

    def test_431_head_never_ends(self):
        # A head that keeps coming without an empty line must be cut off at
        # the limit rather than buffered without end.
        client = harness.ProxyClient(self.broker.address, timeout=15)
        self.addCleanup(client.close)
        client.send(f'GET {self.target.url("/name")} HTTP/1.1\r\n'.encode())
        sent = 0
        try:
            while sent < 256 * 1024:
                client.send(b'X-Filler: ' + b'y' * 1000 + b'\r\n')
                sent += 1012
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = client.read_response()
        self.assert_error_response(response, 431, client)


class OpenTimeoutTest(harness.SwarmTestCase):
    """504 from a provider that registers and then never completes an OPEN."""

    OPEN_TIMEOUT = 2

    def setUp(self):
        super().setUp()
        self.broker = self.start_broker(open_timeout=self.OPEN_TIMEOUT)
        self.target = self.start_target('unreached-target')

    def request_through(self, session_id, token, connect=False):
        client = harness.ProxyClient(self.broker.address, timeout=self.OPEN_TIMEOUT + 15)
        self.addCleanup(client.close)
        headers = [f'Host: {self.target.authority}',
                   harness.proxy_authorization(session_id, token)]
        if connect:
            request = harness.build_request('CONNECT', self.target.authority, headers)
        else:
            request = harness.build_request('GET', self.target.url('/name'), headers)
        started = time.monotonic()
        client.send(request)
        response = client.read_response('CONNECT' if connect else 'GET')
        return client, response, time.monotonic() - started

    def check_timeout(self, fake, connect):
        self.assertEqual(fake.registration, 'OK', 'the broker did not accept the fake provider')
        client, response, elapsed = self.request_through('silent-session', 'silent-token',
                                                         connect=connect)
        self.assert_error_response(response, 504, client)
        self.assertGreaterEqual(elapsed, self.OPEN_TIMEOUT - 0.5,
                                f'504 after {elapsed:.2f} s, before the open timeout')
        self.assertLess(elapsed, self.OPEN_TIMEOUT + 5,
                        f'504 after {elapsed:.2f} s, long after the open timeout')
        opens = [line for line in fake.lines if line.startswith('OPEN ')]
        self.assertEqual(len(opens), 1, f'control lines: {fake.lines}')
        fields = opens[0].split(' ')
        self.assertEqual(fields[2:], ['127.0.0.1', str(self.target.port)], opens[0])
        self.assertEqual(self.target.requests, [], 'the target was contacted')

    def test_504_open_ignored(self):
        fake = self.start_fake_provider(self.broker.address, 'silent-session', 'silent-token')
        self.check_timeout(fake, connect=False)

    def test_504_open_ignored_on_connect(self):
        fake = self.start_fake_provider(self.broker.address, 'silent-session', 'silent-token')
        self.check_timeout(fake, connect=True)

    def test_504_opened_without_data_connection(self):
        fake = self.start_fake_provider(self.broker.address, 'silent-session', 'silent-token',
                                        answer_opened=True)
        self.check_timeout(fake, connect=False)


if __name__ == '__main__':
    unittest.main(verbosity=2)
