"""Off-the-shelf proxy clients against the broker: curl's authentication
negotiation and Python's urllib and http.client."""

import http.client
import json
import ssl
import unittest
import urllib.request

import swarm_harness as harness


class RealClientsTest(harness.SwarmTestCase):

    def setUp(self):
        super().setUp()
        self.ca_path, cert_path, key_path = harness.make_test_ca(self.workdir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        self.tls_target = self.start_target('tls-target', tls_context=context)
        self.broker, self.provider, self.target, self.session_id, self.token = \
            self.share_session(session_id='client-session', token='client-token')

    def test_curl_negotiates_after_407(self):
        # With --proxy-anyauth curl first asks without credentials and only
        # answers the Proxy-Authenticate challenge of the 407.
        for url, extra in ((self.target.url('/name'), []),
                           (f'https://127.0.0.1:{self.tls_target.port}/name',
                            ['--cacert', self.ca_path])):
            with self.subTest(url=url):
                result = self.run_curl(['--fail', '--max-time', '30', '--proxy-anyauth',
                                        '--proxy', f'http://{self.broker.address}',
                                        '--proxy-user', f'{self.session_id}:{self.token}',
                                        *extra, url])
                self.assertEqual(result.returncode, 0, result.stderr.decode(errors='replace'))
                self.assertIn(result.stdout, (b'target', b'tls-target'))

    def test_curl_credentials_in_proxy_url(self):
        proxy = f'http://{self.session_id}:{self.token}@{self.broker.address}'
        result = self.run_curl(['--fail', '--max-time', '30', '--proxy', proxy,
                                self.target.url('/name')])
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors='replace'))
        self.assertEqual(result.stdout, b'target')

    def urllib_opener(self, context=None):
        proxy = f'http://{self.session_id}:{self.token}@{self.broker.address}'
        handlers = [urllib.request.ProxyHandler({'http': proxy, 'https': proxy})]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        return urllib.request.build_opener(*handlers)

    def test_urllib_http(self):
        with self.urllib_opener().open(self.target.url('/bytes/123456'), timeout=30) as reply:
            body = reply.read()
        self.assertEqual(body, harness.content_bytes('/bytes/123456', 123456))

    def test_urllib_https(self):
        context = ssl.create_default_context(cafile=self.ca_path)
        opener = self.urllib_opener(context)
        url = f'https://localhost:{self.tls_target.port}/name'
        with opener.open(url, timeout=30) as reply:
            body = reply.read()
        self.assertEqual(body, b'tls-target')

    def test_http_client_tunnel_keep_alive(self):
        credentials = harness.proxy_authorization(self.session_id, self.token)
        name, _, value = credentials.partition(': ')
        context = ssl.create_default_context(cafile=self.ca_path)
        connection = http.client.HTTPSConnection(self.broker.host, self.broker.port,
                                                 timeout=30, context=context)
        self.addCleanup(connection.close)
        connection.set_tunnel(f'127.0.0.1:{self.tls_target.port}', headers={name: value})
        for path in ('/name', '/bytes/5000', '/name'):
            connection.request('GET', path)
            reply = connection.getresponse()
            body = reply.read()
            self.assertEqual(reply.status, 200, path)
            if path == '/name':
                self.assertEqual(body, b'tls-target')
            else:
                self.assertEqual(body, harness.content_bytes(path, 5000))

    def test_host_header_added_when_missing(self):
        client = harness.ProxyClient(self.broker.address, timeout=15)
        self.addCleanup(client.close)
        client.send(harness.build_request('GET', self.target.url('/headers'), [
            harness.proxy_authorization(self.session_id, self.token)], version='HTTP/1.0'))
        response = client.read_response()
        self.assertEqual(response.status, 200, response.describe())
        headers = {name.lower(): value for name, value in
                   json.loads(response.body)}
        self.assertEqual(headers.get('host'), self.target.authority)


if __name__ == '__main__':
    unittest.main(verbosity=2)
