"""IPv6 literal targets: CONNECT [::1]:PORT and http://[::1]:PORT/.

Exits with 77, which meson counts as a skip, when ::1 cannot be bound.
"""

import socket
import sys
import unittest

import swarm_harness as harness


class Ipv6LiteralTest(harness.SwarmTestCase):

    def setUp(self):
        super().setUp()
        self.target = self.start_target('six', host='::1')
        self.broker, self.provider, _, self.session_id, self.token = \
            self.share_session(session_id='ipv6-session', target=self.target)

    def credentials(self):
        return harness.proxy_authorization(self.session_id, self.token)

    def test_target_authority_is_bracketed(self):
        self.assertEqual(self.target.authority, f'[::1]:{self.target.port}')

    def test_connect_bracketed_literal(self):
        authority = self.target.authority
        client = harness.ProxyClient(self.broker.address, timeout=15)
        self.addCleanup(client.close)
        client.send(harness.build_request('CONNECT', authority, [
            f'Host: {authority}', self.credentials()]))
        established = client.read_response('CONNECT')
        self.assertEqual(established.status, 200, established.describe())
        client.send(f'GET /name HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n'
                    .encode())
        response = client.read_response()
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'six')

    def test_absolute_form_bracketed_literal(self):
        response = harness.proxy_get(self.broker.address, self.target.url('/bytes/70000'),
                                     self.session_id, self.token, timeout=15)
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, harness.content_bytes('/bytes/70000', 70000))
        self.assertEqual(self.target.requests[-1][1], '/bytes/70000')

    def test_absolute_form_with_curl(self):
        result = self.run_curl(['--fail', '--max-time', '30', '--globoff',
                                '--proxy', f'http://{self.broker.address}',
                                '--proxy-user', f'{self.session_id}:{self.token}',
                                self.target.url('/name')])
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors='replace'))
        self.assertEqual(result.stdout, b'six')

    def test_everything_over_ipv6(self):
        broker = self.start_broker(listen='[::1]:0', name='broker-v6')
        self.assertEqual(broker.address, f'[::1]:{broker.port}')
        self.start_provider(broker.address, 'v6-session', self.token, name='provider-v6')
        response = harness.wait_for_session(broker.address, 'v6-session', self.token,
                                            self.target.url('/name'))
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'six')

    def test_missing_port_defaults_to_80_not_a_parse_error(self):
        # http://[::1]/ names port 80, where nothing listens: the provider
        # reports a refused connection (502), so the literal parsed.
        try:
            socket.create_connection(('::1', 80), timeout=2).close()
            self.skipTest('something listens on [::1]:80')
        except OSError:
            pass
        response = harness.proxy_get(self.broker.address, 'http://[::1]/name',
                                     self.session_id, self.token, timeout=15)
        self.assertEqual(response.status, 502, response.describe())


if __name__ == '__main__':
    if not harness.can_bind('::1'):
        print('SKIP: cannot bind a socket to ::1 on this machine (IPv6 disabled?)')
        sys.exit(77)
    unittest.main(verbosity=2)
