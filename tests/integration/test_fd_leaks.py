"""No leaked sockets: the broker's and the provider's open file descriptors
return to their baseline after a batch of requests, errors and abandoned
connections."""

import socket
import unittest

import swarm_harness as harness

SETTLE_TIMEOUT = 10  # seconds for tunnels to wind down after the batch
WRONG_TOKEN = 'wrong-token-Zq81'  # distinctive, so a log search cannot hit ordinary words


class FdLeakTest(harness.SwarmTestCase):

    def setUp(self):
        super().setUp()
        # Debug logging is on so that the secrets check below covers every
        # log level.
        debug = {'G_MESSAGES_DEBUG': 'all'}
        self.broker, self.provider, self.target, self.session_id, self.token = \
            self.share_session(session_id='fd-session', broker_kwargs={'extra_env': debug},
                               extra_env=debug)

    def client(self):
        client = harness.ProxyClient(self.broker.address, timeout=15)
        self.addCleanup(client.close)
        return client

    def credentials(self, token=None, session_id=None):
        return harness.proxy_authorization(session_id or self.session_id, token or self.token)

    def get_request(self, path, headers=None):
        if headers is None:
            headers = [self.credentials()]
        return harness.build_request('GET', self.target.url(path),
                                     [f'Host: {self.target.authority}', *headers])

    def run_batch(self, rounds):
        closed_port = harness.free_port()
        for _ in range(rounds):
            # Keep-alive requests, closed by the client afterwards.
            with harness.ProxyClient(self.broker.address, timeout=15) as client:
                for path in ('/name', '/bytes/100000', '/chunked/5000'):
                    client.send(self.get_request(path))
                    client.read_response()

            # A CONNECT tunnel that the target ends.
            with harness.ProxyClient(self.broker.address, timeout=15) as client:
                authority = self.target.authority
                client.send(harness.build_request('CONNECT', authority, [
                    f'Host: {authority}', self.credentials()]))
                client.read_response('CONNECT')
                client.send(f'GET /name HTTP/1.1\r\nHost: {authority}\r\n'
                            f'Connection: close\r\n\r\n'.encode())
                client.read_response()

            # Errors: 407, 403, 503, 502, 400.
            for headers in ([], [self.credentials(token=WRONG_TOKEN)],
                            [self.credentials(session_id='nobody')]):
                with harness.ProxyClient(self.broker.address, timeout=15) as client:
                    client.send(self.get_request('/name', headers))
                    client.read_response()
            with harness.ProxyClient(self.broker.address, timeout=15) as client:
                client.send(harness.build_request('GET', f'http://127.0.0.1:{closed_port}/', [
                    f'Host: 127.0.0.1:{closed_port}', self.credentials()]))
                client.read_response()
            with harness.ProxyClient(self.broker.address, timeout=15) as client:
                client.send(b'NONSENSE\r\n\r\n')
                client.read_response()

            # A worker that goes away in the middle of a slow download.
            with harness.ProxyClient(self.broker.address, timeout=15) as client:
                client.send(self.get_request('/slow/4000000?rate=400000'))
                client.read_response_head()
                client.read_exact(16384)

            # A CONNECT tunnel abandoned by the worker while the target streams.
            with harness.ProxyClient(self.broker.address, timeout=15) as client:
                authority = self.target.authority
                client.send(harness.build_request('CONNECT', authority, [
                    f'Host: {authority}', self.credentials()]))
                client.read_response('CONNECT')
                client.send(f'GET /slow/4000000?rate=400000 HTTP/1.1\r\nHost: {authority}\r\n\r\n'
                            .encode())
                client.read_response_head()

            # A worker that gives up before the tunnel is established.
            with harness.ProxyClient(self.broker.address, timeout=15) as client:
                authority = self.target.authority
                client.send(harness.build_request('CONNECT', authority, [
                    f'Host: {authority}', self.credentials()]))

            # A half-closed worker that reads its response to the end.
            with harness.ProxyClient(self.broker.address, timeout=15) as client:
                client.send(self.get_request('/bytes/200000'))
                client.shutdown_write()
                client.read_response()
                client.closed_by_peer(timeout=5)

            # Connections that send nothing, or half a head, and go away.
            socket.create_connection((self.broker.host, self.broker.port), timeout=5).close()
            with socket.create_connection((self.broker.host, self.broker.port),
                                          timeout=5) as partial:
                partial.sendall(b'GET http://127.0.0.1:1/ HTT')

    def fd_counts(self):
        return harness.count_fds(self.broker.pid), harness.count_fds(self.provider.pid)

    def wait_for_baseline(self, pid, baseline):
        try:
            harness.wait_until(lambda: harness.count_fds(pid) <= baseline, SETTLE_TIMEOUT,
                               interval=0.2, message=f'the fd count of {pid} to settle')
            return True
        except TimeoutError:
            return False

    def wait_until_stable(self):
        """Return the fd counts once they stayed the same for a second."""
        samples = []

        def stable():
            samples.append(self.fd_counts())
            return len(samples) >= 5 and len(set(samples[-5:])) == 1

        harness.wait_until(stable, SETTLE_TIMEOUT, interval=0.25,
                           message='fd counts that stay the same for a second')
        return samples[-1]

    def test_fds_return_to_baseline(self):
        # One round first, so that descriptors a process opens lazily on
        # first use (resolver, thread pools) are part of the baseline.
        self.run_batch(1)
        broker_baseline, provider_baseline = self.wait_until_stable()

        self.run_batch(5)

        broker_settled = self.wait_for_baseline(self.broker.pid, broker_baseline)
        provider_settled = self.wait_for_baseline(self.provider.pid, provider_baseline)
        broker_now, provider_now = self.fd_counts()
        self.assertTrue(broker_settled,
                        f'broker: {broker_now} fds, baseline {broker_baseline}\n'
                        f'{harness.describe_fds(self.broker.pid)}')
        self.assertTrue(provider_settled,
                        f'provider: {provider_now} fds, baseline {provider_baseline}\n'
                        f'{harness.describe_fds(self.provider.pid)}')

        # The processes still work after the batch.
        response = harness.proxy_get(self.broker.address, self.target.url('/name'),
                                     self.session_id, self.token)
        self.assertEqual(response.body, b'target', response.describe())

    def test_tokens_never_logged(self):
        self.run_batch(1)
        self.assert_not_logged(self.token)
        self.assert_not_logged(WRONG_TOKEN)


if __name__ == '__main__':
    unittest.main(verbosity=2)
