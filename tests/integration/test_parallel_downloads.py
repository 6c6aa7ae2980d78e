"""50 parallel downloads of 4 MiB each through one provider, every byte checked."""

import hashlib
import threading
import time
import unittest

import swarm_harness as harness

DOWNLOADS = 50
LENGTH = 4 * 1024 * 1024
DEADLINE = 150  # seconds for all downloads together


class ParallelDownloadsTest(harness.SwarmTestCase):

    def download(self, index, connect, results):
        path = f'/bytes/{LENGTH}/{index}'
        digest = hashlib.sha256()
        received = [0]

        def sink(piece):
            digest.update(piece)
            received[0] += len(piece)

        try:
            with harness.ProxyClient(self.broker.address, timeout=60) as client:
                if connect:
                    authority = self.target.authority
                    client.send(harness.build_request('CONNECT', authority, [
                        f'Host: {authority}',
                        harness.proxy_authorization(self.session_id, self.token)]))
                    established = client.read_response('CONNECT')
                    if established.status != 200:
                        results[index] = f'CONNECT answered {established.status_line}'
                        return
                    client.send(f'GET {path} HTTP/1.1\r\nHost: {authority}\r\n'
                                f'Connection: close\r\n\r\n'.encode())
                else:
                    client.send(harness.build_request('GET', self.target.url(path), [
                        f'Host: {self.target.authority}',
                        harness.proxy_authorization(self.session_id, self.token),
                        'Connection: close']))
                response = client.read_response(sink=sink)
        except Exception as error:  # any failure is reported per download
            results[index] = f'{type(error).__name__}: {error} after {received[0]} bytes'
            return
        if response.status != 200:
            results[index] = f'status {response.status_line}'
        elif received[0] != LENGTH:
            results[index] = f'{received[0]} bytes instead of {LENGTH}'
        elif digest.hexdigest() != harness.content_sha256(path, LENGTH):
            results[index] = 'sha256 mismatch'
        else:
            results[index] = 'ok'

    def test_fifty_parallel_downloads(self):
        self.broker, self.provider, self.target, self.session_id, self.token = \
            self.share_session(session_id='parallel-session')
        for index in range(DOWNLOADS):
            harness.content_sha256(f'/bytes/{LENGTH}/{index}', LENGTH)

        results = [None] * DOWNLOADS
        threads = [threading.Thread(target=self.download, args=(index, index % 2 == 1, results),
                                    daemon=True)
                   for index in range(DOWNLOADS)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.1, DEADLINE - (time.monotonic() - started)))
        elapsed = time.monotonic() - started

        unfinished = [index for index, thread in enumerate(threads) if thread.is_alive()]
        self.assertEqual(unfinished, [], f'downloads still running after {elapsed:.0f} s')
        failures = {index: result for index, result in enumerate(results) if result != 'ok'}
        self.assertEqual(failures, {}, f'{len(failures)} of {DOWNLOADS} downloads failed')
        print(f'{DOWNLOADS} downloads of {LENGTH} bytes in {elapsed:.1f} s')


if __name__ == '__main__':
    unittest.main(verbosity=2)
