"""CONNECT tunnels to a TLS target, driven by curl and by Python's ssl module."""

import hashlib
import json
import os
import ssl
import unittest

import swarm_harness as harness


class ConnectTlsTest(harness.SwarmTestCase):

    def setUp(self):
        super().setUp()
        self.ca_path, cert_path, key_path = harness.make_test_ca(self.workdir)
        # The private keys live only in this test's temp dir.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        self.tls_target = self.start_target('tls-target', tls_context=context)
        self.broker, self.provider, self.plain_target, self.session_id, self.token = \
            self.share_session(session_id='tls-session')

    def curl_https(self, host, path):
        url = f'https://{host}:{self.tls_target.port}{path}'
        return self.run_curl(['--fail', '--max-time', '30',
                              '--proxy', f'http://{self.broker.address}',
                              '--proxy-user', f'{self.session_id}:{self.token}',
                              '--cacert', self.ca_path, url])

    def test_curl_https_by_address(self):
        result = self.curl_https('127.0.0.1', '/name')
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors='replace'))
        self.assertEqual(result.stdout, b'tls-target')

    def test_curl_https_by_name(self):
        # localhost may resolve to ::1 first while the target listens on
        # 127.0.0.1 only; the provider has to try the next address.
        result = self.curl_https('localhost', '/name')
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors='replace'))
        self.assertEqual(result.stdout, b'tls-target')

    def test_curl_https_large_body(self):
        length = 3 * 1024 * 1024 + 17
        result = self.curl_https('127.0.0.1', f'/bytes/{length}')
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors='replace'))
        self.assertEqual(len(result.stdout), length)
        self.assertEqual(result.stdout, harness.content_bytes(f'/bytes/{length}', length))

    def test_curl_https_large_upload(self):
        body = os.urandom(8 * 1024 * 1024)
        upload_path = os.path.join(self.workdir, 'upload.bin')
        with open(upload_path, 'wb') as upload:
            upload.write(body)
        result = self.run_curl(['--fail', '--max-time', '60',
                                '--proxy', f'http://{self.broker.address}',
                                '--proxy-user', f'{self.session_id}:{self.token}',
                                '--cacert', self.ca_path, '--data-binary', f'@{upload_path}',
                                f'https://127.0.0.1:{self.tls_target.port}/echo'])
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors='replace'))
        answer = json.loads(result.stdout)
        self.assertEqual(answer['length'], len(body))
        self.assertEqual(answer['sha256'], hashlib.sha256(body).hexdigest())

    def test_tls_handshake_through_raw_connect(self):
        authority = f'127.0.0.1:{self.tls_target.port}'
        client = harness.ProxyClient(self.broker.address, timeout=15)
        self.addCleanup(client.close)
        client.send(harness.build_request('CONNECT', authority, [
            f'Host: {authority}',
            harness.proxy_authorization(self.session_id, self.token)]))
        response = client.read_response('CONNECT')
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(client.buffer, b'', 'bytes after the 200 before the TLS handshake')

        context = ssl.create_default_context(cafile=self.ca_path)
        with context.wrap_socket(client.sock, server_hostname='127.0.0.1') as tls:
            tls.sendall(b'GET /name HTTP/1.1\r\nHost: ' + authority.encode() +
                        b'\r\nConnection: close\r\n\r\n')
            received = bytearray()
            while True:
                data = tls.recv(65536)
                if not data:
                    break
                received += data
        head, _, body = bytes(received).partition(b'\r\n\r\n')
        self.assertTrue(head.startswith(b'HTTP/1.1 200 '), head)
        self.assertEqual(body, b'tls-target')


if __name__ == '__main__':
    unittest.main(verbosity=2)
