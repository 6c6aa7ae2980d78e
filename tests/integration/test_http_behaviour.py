"""HTTP/1.x proxy behaviour of the broker with raw sockets and curl."""

import hashlib
import json
import os
import time
import unittest

import swarm_harness as harness


class HttpBehaviourTest(harness.SwarmTestCase):

    def setUp(self):
        super().setUp()
        self.alpha = self.start_target('alpha')
        # A second loopback address makes the two targets different hosts,
        # not only different ports.
        beta_host = '127.0.0.2' if harness.can_bind('127.0.0.2') else harness.LOOPBACK
        self.beta = self.start_target('beta', host=beta_host)
        self.broker, self.provider, _, self.session_id, self.token = \
            self.share_session(session_id='http-session', target=self.alpha)

    def connect(self, timeout=15):
        client = harness.ProxyClient(self.broker.address, timeout=timeout)
        self.addCleanup(client.close)
        return client

    def credentials(self):
        return harness.proxy_authorization(self.session_id, self.token)

    def get(self, target, path, extra=(), method='GET', version='HTTP/1.1'):
        return harness.build_request(method, target.url(path), [
            f'Host: {target.authority}', self.credentials(), *extra], version=version)

    def open_tunnel(self, client, authority, early_bytes=b''):
        client.send(harness.build_request('CONNECT', authority, [
            f'Host: {authority}', self.credentials()]) + early_bytes)
        response = client.read_response('CONNECT')
        self.assertEqual(response.status, 200, response.describe())
        return response

    def test_keep_alive_two_hosts(self):
        client = self.connect()
        client.send(self.get(self.alpha, '/name'))
        first = client.read_response()
        self.assertEqual(first.status, 200, first.describe())
        self.assertEqual(first.body, b'alpha')

        client.send(self.get(self.beta, '/name'))
        second = client.read_response()
        self.assertEqual(second.status, 200, second.describe())
        self.assertEqual(second.body, b'beta')
        self.assertEqual(len(self.beta.requests), 1, 'beta saw a different number of requests')

    def test_pipelined_requests_in_one_write(self):
        client = self.connect()
        client.send(self.get(self.alpha, '/name') + self.get(self.beta, '/name') +
                    self.get(self.alpha, '/bytes/1000'))
        first = client.read_response()
        self.assertEqual(first.body, b'alpha', first.describe())
        second = client.read_response()
        self.assertEqual(second.body, b'beta', second.describe())
        third = client.read_response()
        self.assertEqual(third.body, harness.content_bytes('/bytes/1000', 1000),
                         third.describe())

    def test_routes_by_request_target_not_host(self):
        client = self.connect()
        request = harness.build_request('GET', self.beta.url('/name'), [
            f'Host: {self.alpha.authority}', self.credentials()])
        client.send(request)
        response = client.read_response()
        self.assertEqual(response.body, b'beta', response.describe())

    def test_response_framing_on_keep_alive(self):
        # HEAD, 204 and 304 responses carry no body whatever their headers
        # say, and a chunked response ends at its last chunk; a broker that
        # gets this wrong stalls or garbles the next response.
        client = self.connect()
        client.send(self.get(self.alpha, '/bytes/5000', method='HEAD'))
        head_response = client.read_response('HEAD')
        self.assertEqual(head_response.header('Content-Length'), '5000',
                         head_response.describe())

        for status in (204, 304):
            client.send(self.get(self.alpha, f'/status/{status}'))
            response = client.read_response()
            self.assertEqual(response.status, status, response.describe())

        client.send(self.get(self.alpha, '/chunked/200000'))
        chunked = client.read_response()
        self.assertEqual(chunked.body, harness.content_bytes('/chunked/200000', 200000))

        client.send(self.get(self.alpha, '/name'))
        last = client.read_response()
        self.assertEqual(last.body, b'alpha', last.describe())
        self.assertEqual(client.buffer, b'', 'extra bytes after the last response')

    def test_response_until_close(self):
        length = 300000
        client = self.connect()
        client.send(self.get(self.alpha, f'/until-close/{length}'))
        response = client.read_response()
        self.assertEqual(response.status, 200, response.describe())
        self.assertIsNone(response.header('Content-Length'))
        self.assertEqual(response.body, harness.content_bytes(f'/until-close/{length}', length))

    def test_target_closes_between_requests(self):
        # The target ends its connection after each response without saying
        # so.  The worker's next request must not vanish into that dead
        # upstream: it gets its response, or the broker closes the worker
        # connection before answering, which clients handle by retrying.
        client = self.connect()
        reconnects = 0
        for round_number in range(4):
            client.send(self.get(self.alpha, '/name?close=silent'))
            try:
                response = client.read_response()
            except (EOFError, ConnectionResetError):
                self.assertEqual(client.buffer, b'', f'round {round_number}: partial response')
                reconnects += 1
                client = self.connect()
                client.send(self.get(self.alpha, '/name?close=silent'))
                response = client.read_response()
            self.assertEqual(response.status, 200, f'round {round_number}: {response.describe()}')
            self.assertEqual(response.body, b'alpha', f'round {round_number}')
            # Give the target's FIN time to travel back through the tunnel.
            time.sleep(0.2)
        print(f'worker connection closed by the broker {reconnects} time(s)')

    def test_target_announces_close(self):
        client = self.connect()
        client.send(self.get(self.alpha, '/name?close=1'))
        response = client.read_response()
        self.assertEqual(response.body, b'alpha', response.describe())
        self.assertEqual((response.header('Connection') or '').lower(), 'close')

    def test_chunked_coding_name_case_insensitive(self):
        body = b'hello, chunked world'
        chunks = [b'%x\r\n%s\r\n0\r\n\r\n' % (len(body), body)]
        answer = self.echo(self.connect(), b'', ['Transfer-Encoding: Chunked'], chunks)
        self.assertEqual(answer['length'], len(body))
        self.assertEqual(answer['sha256'], hashlib.sha256(body).hexdigest())

    def echo(self, client, body, headers, chunks=None):
        """POST to /echo and return the JSON answer of the target."""
        head = harness.build_request('POST', self.alpha.url('/echo'), [
            f'Host: {self.alpha.authority}', self.credentials(), *headers])
        if chunks is None:
            client.send(head + body)
        else:
            client.send(head)
            for piece in chunks:
                client.send(piece)
        response = client.read_response()
        self.assertEqual(response.status, 200, response.describe())
        return json.loads(response.body)

    def test_body_with_content_length_in_one_write(self):
        body = b'small body sent with its head'
        answer = self.echo(self.connect(), body, [f'Content-Length: {len(body)}'])
        self.assertEqual(answer['length'], len(body))
        self.assertEqual(answer['sha256'], hashlib.sha256(body).hexdigest())
        self.assertEqual(self.alpha.bodies[-1][1], body)

    def test_large_body_with_content_length(self):
        body = os.urandom(3 * 1024 * 1024 + 5)
        pieces = [body[offset:offset + 100000] for offset in range(0, len(body), 100000)]
        answer = self.echo(self.connect(), b'', [f'Content-Length: {len(body)}'], pieces)
        self.assertEqual(answer['length'], len(body))
        self.assertEqual(answer['sha256'], hashlib.sha256(body).hexdigest())

    def test_chunked_body(self):
        body = os.urandom(700000)
        chunks = []
        offset = 0
        for size in (1, 15, 4096, 65536, 300000):
            piece = body[offset:offset + size]
            chunks.append(b'%x;ext=1\r\n%s\r\n' % (len(piece), piece))
            offset += size
        rest = body[offset:]
        chunks.append(b'%X\r\n%s\r\n' % (len(rest), rest))
        chunks.append(b'0\r\nX-Trailer: end\r\n\r\n')
        client = self.connect()
        answer = self.echo(client, b'', ['Transfer-Encoding: chunked'], chunks)
        self.assertEqual(answer['transfer_encoding'], 'chunked')
        self.assertEqual(answer['length'], len(body))
        self.assertEqual(answer['sha256'], hashlib.sha256(body).hexdigest())

        # The body must end at the last chunk, so the connection carries on.
        client.send(self.get(self.beta, '/name'))
        after = client.read_response()
        self.assertEqual(after.body, b'beta', after.describe())

    def test_expect_continue_raw(self):
        body = os.urandom(200000)
        client = self.connect()
        client.send(harness.build_request('POST', self.alpha.url('/echo'), [
            f'Host: {self.alpha.authority}', self.credentials(),
            f'Content-Length: {len(body)}', 'Expect: 100-continue']))
        interim = client.read_response(keep_informational=True)
        self.assertEqual(interim.status, 100, interim.describe())
        client.send(body)
        final = client.read_response()
        self.assertEqual(final.status, 200, final.describe())
        answer = json.loads(final.body)
        self.assertEqual(answer['length'], len(body))
        self.assertEqual(answer['sha256'], hashlib.sha256(body).hexdigest())

    def test_expect_continue_curl(self):
        body = os.urandom(2 * 1024 * 1024)
        body_path = os.path.join(self.workdir, 'upload.bin')
        with open(body_path, 'wb') as upload:
            upload.write(body)
        result = self.run_curl(['--fail', '--max-time', '30', '--expect100-timeout', '10',
                                '--proxy', f'http://{self.broker.address}',
                                '--proxy-user', f'{self.session_id}:{self.token}',
                                '-H', 'Expect: 100-continue', '--data-binary', f'@{body_path}',
                                '--write-out', '\n%{time_total}',
                                self.alpha.url('/echo')])
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors='replace'))
        answer_text, _, total = result.stdout.rpartition(b'\n')
        answer = json.loads(answer_text)
        self.assertEqual(answer['length'], len(body))
        self.assertEqual(answer['sha256'], hashlib.sha256(body).hexdigest())
        # curl sends the body anyway when no 100 arrives within the timeout.
        self.assertLess(float(total), 10, 'curl waited out its 100-continue timeout')

    def test_http_10_client(self):
        client = self.connect()
        client.send(self.get(self.alpha, '/bytes/100000', version='HTTP/1.0'))
        response = client.read_response()
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, harness.content_bytes('/bytes/100000', 100000))
        self.assertTrue(client.closed_by_peer(timeout=10),
                        'the connection of an HTTP/1.0 client stayed open')

    def test_http_10_client_with_curl(self):
        result = self.run_curl(['--fail', '--max-time', '30', '--http1.0',
                                '--proxy1.0', self.broker.address,
                                '--proxy-user', f'{self.session_id}:{self.token}',
                                self.alpha.url('/bytes/50000')])
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors='replace'))
        self.assertEqual(result.stdout, harness.content_bytes('/bytes/50000', 50000))

    def test_hop_by_hop_headers_removed(self):
        client = self.connect()
        client.send(self.get(self.alpha, '/headers', extra=['Proxy-Connection: keep-alive',
                                                            'X-Kept: yes']))
        response = client.read_response()
        headers = {name.lower(): value for name, value in json.loads(response.body)}
        self.assertNotIn('proxy-authorization', headers, 'credentials reached the target')
        self.assertNotIn('proxy-connection', headers)
        self.assertEqual(headers.get('x-kept'), 'yes')
        self.assertEqual(headers.get('host'), self.alpha.authority)

    def test_origin_form_request_line_upstream(self):
        client = self.connect()
        client.send(self.get(self.alpha, '/headers?a=1&b=2'))
        response = client.read_response()
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(self.alpha.requests[-1][1], '/headers?a=1&b=2')

    def test_bytes_right_after_connect_head(self):
        client = self.connect()
        request = (f'GET /name HTTP/1.1\r\nHost: {self.alpha.authority}\r\n'
                   f'Connection: close\r\n\r\n').encode()
        self.open_tunnel(client, self.alpha.authority, early_bytes=request)
        response = client.read_response()
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'alpha')

    def test_connect_half_close(self):
        length = 2 * 1024 * 1024
        client = self.connect()
        self.open_tunnel(client, self.alpha.authority)
        client.send(f'GET /bytes/{length} HTTP/1.1\r\nHost: {self.alpha.authority}\r\n\r\n'
                    .encode())
        client.shutdown_write()
        response = client.read_response()
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(len(response.body), length)
        self.assertEqual(response.body, harness.content_bytes(f'/bytes/{length}', length))
        self.assertTrue(client.closed_by_peer(timeout=10),
                        'the tunnel stayed open after both sides finished')

    def test_plain_half_close(self):
        length = 2 * 1024 * 1024
        client = self.connect()
        client.send(self.get(self.alpha, f'/bytes/{length}'))
        client.shutdown_write()
        response = client.read_response()
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(len(response.body), length)
        self.assertEqual(response.body, harness.content_bytes(f'/bytes/{length}', length))
        self.assertTrue(client.closed_by_peer(timeout=10),
                        'the connection stayed open after the client finished')

    def test_token_with_colons(self):
        token = 'tok:with:colons!'
        self.start_provider(self.broker.address, 'colon-session', token, name='colon-provider')
        harness.wait_for_session(self.broker.address, 'colon-session', token,
                                 self.alpha.url('/name'))
        result = self.run_curl(['--fail', '--max-time', '30',
                                '--proxy', f'http://{self.broker.address}',
                                '--proxy-user', f'colon-session:{token}',
                                self.beta.url('/name')])
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors='replace'))
        self.assertEqual(result.stdout, b'beta')

        # Only the whole token after the first colon is accepted.
        partial = harness.proxy_get(self.broker.address, self.beta.url('/name'),
                                    'colon-session', 'tok:with')
        self.assertEqual(partial.status, 403, partial.describe())

    def test_token_from_file_and_environment(self):
        for source in ('file', 'environment'):
            with self.subTest(token_source=source):
                session_id = f'{source}-session'
                token = harness.random_token()
                self.start_provider(self.broker.address, session_id, token,
                                    token_source=source, name=f'{source}-provider')
                response = harness.wait_for_session(self.broker.address, session_id, token,
                                                    self.alpha.url('/name'))
                self.assertEqual(response.status, 200, response.describe())
                self.assertEqual(response.body, b'alpha')


if __name__ == '__main__':
    unittest.main(verbosity=2)
