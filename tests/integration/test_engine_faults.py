"""Faults that must not take the broker or the provider down: a control
connection reset mid-write, running out of descriptors, silent connections,
two providers with one ticket, and a flood of OPENs."""

import os
import re
import resource
import signal
import socket
import struct
import subprocess
import time
import unittest

from swarm_harness import (LOOPBACK, ManagedProcess, SwarmTestCase, build_request,
                           proxy_authorization, random_token, split_host_port,
                           swarm_proxy_path, wait_until)

LISTEN_LINE = re.compile(rb'broker listening on (\S+)')


def setUpModule():
    # Some tests hold more than a thousand sockets at once.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid):
    """User plus system CPU time of a process, in seconds."""
    with open(f'/proc/{pid}/stat') as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    ticks = os.sysconf('SC_CLK_TCK')
    return (int(fields[11]) + int(fields[12])) / ticks


def read_line(sock, timeout=5.0):
    sock.settimeout(timeout)
    data = b''
    while not data.endswith(b'\n'):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


class EngineFaultTest(SwarmTestCase):

    def start_limited_broker(self, max_descriptors, extra_args=()):
        """Start a broker whose soft and hard descriptor limits are both
        `max_descriptors`, so it cannot raise them, and return (process,
        address)."""
        argv = ['prlimit', f'--nofile={max_descriptors}:{max_descriptors}', '--',
                swarm_proxy_path(), 'broker', '--listen', f'{LOOPBACK}:0', *extra_args]
        broker = ManagedProcess('limited-broker', argv, self.workdir)
        self._processes.append(broker)
        self.addCleanup(broker.kill)

        def address():
            match = LISTEN_LINE.search(broker.output())
            return match.group(1).decode() if match else None

        return broker, wait_until(address, 10, message='the broker to listen')

    def test_provider_reconnects_after_write_failure(self):
        # A fake broker: the provider's reply to an OPEN is written into a
        # connection that the broker has already reset.
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind((LOOPBACK, 0))
        listener.listen(4)
        listener.settimeout(10)
        address = f'{LOOPBACK}:{listener.getsockname()[1]}'

        provider = self.start_provider(address, 'reset-session', random_token(),
                                       allow_private=False)
        control, _ = listener.accept()
        self.assertTrue(read_line(control).startswith(b'PROVIDER reset-session '))
        control.sendall(b'OK\n')
        time.sleep(0.5)

        # Stopped, the provider sees the OPEN and the reset together, and its
        # FAILED (the target is a loopback address) hits the reset socket.
        provider.popen.send_signal(signal.SIGSTOP)
        control.sendall(b'OPEN n1 127.0.0.1 80\n')
        time.sleep(0.2)
        control.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        control.close()
        time.sleep(0.2)
        provider.popen.send_signal(signal.SIGCONT)

        listener.settimeout(8)
        try:
            again, _ = listener.accept()
        except socket.timeout:
            self.fail(f'the provider did not reconnect within 8 s\n{provider.tail()}')
        with again:
            self.assertTrue(read_line(again).startswith(b'PROVIDER reset-session '))

    def test_broker_out_of_descriptors_does_not_spin(self):
        broker, address = self.start_limited_broker(48)
        host, port = split_host_port(address)

        idle = []
        self.addCleanup(lambda: [sock.close() for sock in idle])
        for _ in range(60):
            idle.append(socket.create_connection((host, port), timeout=5))
        time.sleep(0.5)

        log_size = os.path.getsize(broker.log_path)
        cpu_before = cpu_seconds(broker.pid)
        time.sleep(2.0)
        cpu_used = cpu_seconds(broker.pid) - cpu_before
        log_growth = os.path.getsize(broker.log_path) - log_size

        self.assertLess(cpu_used, 0.5, f'the broker spun for {cpu_used:.2f} s of CPU in 2 s')
        self.assertLess(log_growth, 4096, f'the log grew {log_growth} bytes in 2 s')
        self.assertTrue(broker.running(), broker.tail())

        for sock in idle:
            sock.close()
        idle.clear()

        def answers():
            try:
                with socket.create_connection((host, port), timeout=5) as client:
                    client.sendall(build_request('GET', f'http://{LOOPBACK}:9/'))
                    client.settimeout(5)
                    return client.recv(64).startswith(b'HTTP/1.1 407')
            except OSError:
                return False

        wait_until(answers, 10, interval=0.2, message='the broker to accept again')

    def test_silent_connections_capped_per_address(self):
        broker = self.start_broker()
        host, port = broker.host, broker.port

        silent = []
        self.addCleanup(lambda: [sock.close() for sock in silent])
        for _ in range(512):
            silent.append(socket.create_connection((host, port), timeout=5))
        time.sleep(0.5)

        with socket.create_connection((host, port), timeout=5) as extra:
            extra.settimeout(5)
            self.assertEqual(extra.recv(1), b'', 'a 513th silent connection should be closed')

        for sock in silent:
            sock.close()
        silent.clear()

        def answers():
            with socket.create_connection((host, port), timeout=5) as client:
                client.sendall(build_request('GET', f'http://{LOOPBACK}:9/'))
                client.settimeout(5)
                return client.recv(64).startswith(b'HTTP/1.1 407')

        wait_until(answers, 10, interval=0.2, message='the broker to take requests again')

    def test_same_ticket_providers_do_not_flap(self):
        broker = self.start_broker()
        token = random_token()
        first = self.start_provider(broker.address, 'shared-ticket', token, name='first')
        wait_until(lambda: b'sharing' in first.output(), 10, message='the first provider')
        second = self.start_provider(broker.address, 'shared-ticket', token, name='second')

        wait_until(lambda: b'replaced' in first.output(), 10,
                   message='the first provider to learn it was replaced')
        time.sleep(6)

        replacements = broker.output().count(b'reconnected from')
        self.assertLessEqual(replacements, 1,
                             f'providers replaced each other {replacements} times in 6 s\n'
                             f'{broker.tail()}')
        self.assertIn(b'same ticket', first.output())
        self.assertTrue(second.running(), second.tail())

    def test_pending_opens_capped_per_session(self):
        broker = self.start_broker(open_timeout=30)
        token = random_token()
        fake = self.start_fake_provider(broker.address, 'flooded', token)

        workers = []
        self.addCleanup(lambda: [sock.close() for sock in workers])
        request = build_request('CONNECT', f'{LOOPBACK}:9',
                                [proxy_authorization('flooded', token)])
        for index in range(1024):
            worker = socket.create_connection((broker.host, broker.port), timeout=5)
            worker.sendall(request)
            workers.append(worker)
            # Pauses keep the connections that the broker has not read yet
            # under its limit per address.
            if index % 128 == 127:
                time.sleep(0.2)

        def opens():
            return [line for line in fake.lines if line.startswith('OPEN ')]

        wait_until(lambda: len(opens()) >= 1024, 30, message='1024 OPENs at the provider')

        with socket.create_connection((broker.host, broker.port), timeout=5) as extra:
            extra.sendall(request)
            extra.settimeout(10)
            response = extra.recv(4096)

        self.assertTrue(response.startswith(b'HTTP/1.1 503'), response[:200])
        self.assertIn(b'already opening 1024 tunnels', response)
        self.assertEqual(len(opens()), 1024)


class ErrorResponseTest(SwarmTestCase):

    def test_error_response_with_unread_body_not_reset(self):
        broker = self.start_broker()
        body = b'x' * (512 * 1024)
        request = build_request('POST', f'http://{LOOPBACK}:9/upload',
                                [f'Content-Length: {len(body)}'], body)

        with socket.create_connection((broker.host, broker.port), timeout=10) as client:
            # Without credentials the broker sends 407 after the head.  The
            # body still arrives and must be drained, not met with a reset.
            client.sendall(request)
            client.shutdown(socket.SHUT_WR)
            response = b''
            while True:
                chunk = client.recv(65536)
                if not chunk:
                    break
                response += chunk

        self.assertTrue(response.startswith(b'HTTP/1.1 407 '), response[:200])
        self.assertIn(b'Proxy-Authenticate: Basic realm="swarm-proxy"', response)

    def test_refused_target_reason_is_short(self):
        broker, provider, target, session_id, token = self.share_session()
        closed = socket.socket()
        closed.bind((LOOPBACK, 0))
        port = closed.getsockname()[1]
        closed.close()

        with socket.create_connection((broker.host, broker.port), timeout=10) as client:
            client.sendall(build_request('GET', f'http://{LOOPBACK}:{port}/',
                                         [proxy_authorization(session_id, token)]))
            client.settimeout(10)
            response = client.recv(4096)

        self.assertTrue(response.startswith(b'HTTP/1.1 502 '), response[:200])
        self.assertIn(f'to {LOOPBACK}:{port}: could not connect: connection refused'.encode(),
                      response)
        self.assertNotIn(b'Could not connect', response)


class ProviderRetryTest(SwarmTestCase):

    def test_first_retry_announced_as_1_s(self):
        closed = socket.socket()
        closed.bind((LOOPBACK, 0))
        address = f'{LOOPBACK}:{closed.getsockname()[1]}'
        closed.close()

        provider = self.start_provider(address, 'retry-session', random_token())
        wait_until(lambda: b'retrying in' in provider.output(), 10, message='a retry line')

        first = re.search(rb'retrying in (\d+) s', provider.output())
        self.assertEqual(first.group(1), b'1', provider.tail())

    def test_rejected_registration_waits_longest_delay(self):
        broker = self.start_broker()
        self.start_provider(broker.address, 'taken-session', random_token(), name='holder')
        wait_until(lambda: b'registered session taken-session' in broker.output(), 10,
                   message='the first provider to register')

        intruder = self.start_provider(broker.address, 'taken-session', random_token(),
                                       name='intruder')
        wait_until(lambda: b'retrying in' in intruder.output(), 10, message='a retry line')

        delay = int(re.search(rb'retrying in (\d+) s', intruder.output()).group(1))
        self.assertGreaterEqual(delay, 30, intruder.tail())
        self.assertIn(b'rejected session taken-session', intruder.output())


if __name__ == '__main__':
    unittest.main()
