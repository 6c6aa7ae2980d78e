"""A provider killed in the middle of a download: the worker's transfer fails
quickly instead of hanging, and a restarted provider serves the next request."""

import hashlib
import os
import signal
import subprocess
import time
import unittest

import swarm_harness as harness

LENGTH = 20 * 1024 * 1024
RATE = 1024 * 1024  # bytes per second, so the download would take 20 s
FAILURE_DEADLINE = 10  # seconds from the kill until curl must have given up


class ProviderKilledTest(harness.SwarmTestCase):

    def start_download(self, mode):
        self.broker, self.provider, self.target, self.session_id, self.token = \
            self.share_session(session_id='kill-session')
        self.output_path = os.path.join(self.workdir, 'download.bin')
        scheme_args = []
        if mode == 'connect':
            scheme_args = ['--proxytunnel']
        argv = ['curl', '--silent', '--show-error', '--noproxy', '', '--max-time', '60',
                *scheme_args,
                '--proxy', f'http://{self.broker.address}',
                '--proxy-user', f'{self.session_id}:{self.token}',
                '--output', self.output_path,
                self.target.url(f'/slow/{LENGTH}?rate={RATE}')]
        curl = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        harness._children.append(curl)
        self.addCleanup(self.stop_curl, curl)
        return curl

    def stop_curl(self, curl):
        if curl.poll() is None:
            curl.kill()
        curl.wait(timeout=10)
        curl.stderr.close()

    def downloaded(self):
        try:
            return os.path.getsize(self.output_path)
        except FileNotFoundError:
            return 0

    def check_kill_and_recover(self, mode):
        curl = self.start_download(mode)
        harness.wait_until(lambda: self.downloaded() >= 512 * 1024 or curl.poll() is not None,
                           timeout=20, message='the first 512 KiB of the download')
        if curl.poll() is not None:
            self.fail(f'curl ended before the kill: {curl.stderr.read()!r}')

        self.provider.kill()
        killed_at = time.monotonic()
        try:
            curl.wait(timeout=FAILURE_DEADLINE + 5)
        except subprocess.TimeoutExpired:
            pass
        elapsed = time.monotonic() - killed_at
        self.assertIsNotNone(curl.returncode,
                             f'curl still running {elapsed:.1f} s after the provider died')
        self.assertLess(elapsed, FAILURE_DEADLINE,
                        f'curl needed {elapsed:.1f} s to notice the provider was gone')
        self.assertNotEqual(curl.returncode, 0, 'curl reported success for a cut download')
        self.assertLess(self.downloaded(), LENGTH, 'the whole file arrived after the kill')

        self.start_provider(self.broker.address, self.session_id, self.token,
                            name='provider-restarted')
        first = harness.wait_for_session(self.broker.address, self.session_id, self.token,
                                         self.target.url('/name'), timeout=30)
        self.assertEqual(first.status, 200, first.describe())
        response = harness.proxy_get(self.broker.address, self.target.url('/bytes/1048576'),
                                     self.session_id, self.token, timeout=30)
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(hashlib.sha256(response.body).hexdigest(),
                         harness.content_sha256('/bytes/1048576', 1048576))

    def test_stopped_provider_gives_504(self):
        # A provider that hangs (here: SIGSTOP) keeps its sockets open, so
        # only the open timeout can answer the worker.
        open_timeout = 2
        self.broker, self.provider, self.target, self.session_id, self.token = \
            self.share_session(session_id='stop-session',
                               broker_kwargs={'open_timeout': open_timeout})
        self.provider.popen.send_signal(signal.SIGSTOP)
        self.addCleanup(self.provider.popen.send_signal, signal.SIGCONT)

        started = time.monotonic()
        response = harness.proxy_get(self.broker.address, self.target.url('/name'),
                                     self.session_id, self.token, timeout=open_timeout + 15)
        elapsed = time.monotonic() - started
        self.assertEqual(response.status, 504, response.describe())
        self.assertLess(elapsed, open_timeout + 5, f'504 only after {elapsed:.1f} s')

        self.provider.popen.send_signal(signal.SIGCONT)
        after = harness.proxy_get(self.broker.address, self.target.url('/name'),
                                  self.session_id, self.token, timeout=15)
        self.assertEqual(after.status, 200, after.describe())
        self.assertEqual(after.body, b'target')

    def test_plain_download(self):
        self.check_kill_and_recover('plain')

    def test_connect_download(self):
        self.check_kill_and_recover('connect')


if __name__ == '__main__':
    unittest.main(verbosity=2)

