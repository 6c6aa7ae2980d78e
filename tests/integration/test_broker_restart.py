"""A broker restarted on the same port while a provider runs: the provider
registers again by itself and requests work again."""

import signal
import subprocess
import time
import unittest

import swarm_harness as harness

# The provider's reconnect delay doubles from 1 s with up to 25 % jitter, so
# a few failed attempts already take well over 10 s.
REREGISTER_TIMEOUT = 45


class BrokerRestartTest(harness.SwarmTestCase):

    def start_broker_on(self, address, name):
        # The old broker is dead when this runs, but its port may need a
        # moment to become bindable.  This short retry does not cover TIME_WAIT
        # on purpose: a broker without SO_REUSEADDR has to fail here.
        deadline = time.monotonic() + 5
        while True:
            try:
                return self.start_broker(listen=address, name=name)
            except RuntimeError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def check_restart(self, signal_name):
        broker, provider, target, session_id, token = \
            self.share_session(session_id='restart-session')
        before = harness.proxy_get(broker.address, target.url('/name'), session_id, token)
        self.assertEqual(before.body, b'target', before.describe())

        kill_signal = getattr(signal, signal_name)
        broker.kill(kill_signal)
        self.assertTrue(provider.running(), 'the provider exited when the broker went away')

        second = self.start_broker_on(broker.address, name='broker-restarted')
        self.assertEqual(second.address, broker.address)
        started = time.monotonic()
        response = harness.wait_for_session(second.address, session_id, token,
                                            target.url('/name'), timeout=REREGISTER_TIMEOUT)
        print(f'provider registered again after {time.monotonic() - started:.1f} s')
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'target')

        large = harness.proxy_get(second.address, target.url('/bytes/300000'), session_id, token)
        self.assertEqual(large.body, harness.content_bytes('/bytes/300000', 300000))

    def test_broker_killed(self):
        self.check_restart('SIGKILL')

    def test_broker_terminated(self):
        self.check_restart('SIGTERM')

    def test_sigterm_ends_tunnels_and_exits_zero(self):
        broker, provider, target, session_id, token = \
            self.share_session(session_id='stop-session')
        tunnel = harness.ProxyClient(broker.address, timeout=15)
        self.addCleanup(tunnel.close)
        tunnel.send(harness.build_request('CONNECT', target.authority, [
            f'Host: {target.authority}', harness.proxy_authorization(session_id, token)]))
        self.assertEqual(tunnel.read_response('CONNECT').status, 200)

        broker.popen.terminate()
        try:
            broker.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.fail('the broker was still running 10 s after SIGTERM')
        self.assertEqual(broker.popen.returncode, 0, broker.tail())
        self.assertTrue(tunnel.closed_by_peer(timeout=5), 'the tunnel outlived the broker')

        provider.popen.terminate()
        try:
            provider.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.fail('the provider was still running 10 s after SIGTERM')
        self.assertEqual(provider.popen.returncode, 0, provider.tail())

    def test_second_restart_during_backoff(self):
        # Two outages in a row push the provider's backoff up; it must still
        # come back within the bound.
        broker, provider, target, session_id, token = \
            self.share_session(session_id='restart-session')
        address = broker.address
        broker.kill()
        time.sleep(3)
        middle = self.start_broker_on(address, name='broker-middle')
        harness.wait_for_session(middle.address, session_id, token, target.url('/name'),
                                 timeout=REREGISTER_TIMEOUT)
        middle.kill()
        time.sleep(3)
        last = self.start_broker_on(address, name='broker-last')
        response = harness.wait_for_session(last.address, session_id, token,
                                            target.url('/name'), timeout=REREGISTER_TIMEOUT)
        self.assertEqual(response.status, 200, response.describe())
        self.assertEqual(response.body, b'target')


if __name__ == '__main__':
    unittest.main(verbosity=2)
