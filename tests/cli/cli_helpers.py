"""Helpers for the command line tests of swarm-proxy.

Runs the executable named by $SWARM_PROXY, keeps long-running children (broker,
provider, share) with their output captured by reader threads, serves a tiny
HTTP target and sends one proxy request through a broker.  Everything binds to
127.0.0.1 with ports the kernel picks, and every child is killed when its test
ends.
"""

import base64
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

LOOPBACK = '127.0.0.1'
# Seconds a single step (a line to appear, a process to exit) may take.
STEP_TIMEOUT = 8.0
TOKEN_PATTERN = re.compile(r'^[A-Za-z0-9_-]{32}$')


def swarm_proxy_path():
    path = os.environ.get('SWARM_PROXY')
    if not path:
        raise RuntimeError('SWARM_PROXY is not set; run the tests with meson test, '
                           'or set it to the swarm-proxy executable')
    return path


def child_environment(**overrides):
    """Return the environment for a child: English messages, no debug lines,
    no token inherited from the caller, plus `overrides`."""
    env = dict(os.environ)
    env.pop('SWARM_PROXY_TOKEN', None)
    env.pop('G_MESSAGES_DEBUG', None)
    env['LC_ALL'] = 'C.UTF-8'
    env.update(overrides)
    return env


def run(args, env=None, timeout=STEP_TIMEOUT):
    """Run swarm-proxy with `args` to completion and return the result, with
    stdout and stderr as text."""
    return subprocess.run([swarm_proxy_path()] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else child_environment())


def wait_until(predicate, timeout=STEP_TIMEOUT, interval=0.05):
    """Poll `predicate` until it returns a true value, and return that value,
    or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


class Child:
    """A swarm-proxy process that keeps running, with stdout and stderr
    collected line by line."""

    def __init__(self, args, env=None):
        self.args = list(args)
        self.popen = subprocess.Popen([swarm_proxy_path()] + self.args,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True,
                                      env=env if env is not None else child_environment())
        self._lock = threading.Lock()
        self._lines = {'stdout': [], 'stderr': []}
        self._readers = [
            threading.Thread(target=self._read, args=('stdout', self.popen.stdout), daemon=True),
            threading.Thread(target=self._read, args=('stderr', self.popen.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name, stream):
        for line in stream:
            with self._lock:
                self._lines[name].append(line.rstrip('\n'))

    def lines(self, name):
        with self._lock:
            return list(self._lines[name])

    def describe(self):
        """Return the command and its output so far, for failure messages."""
        return (f'swarm-proxy {" ".join(self.args)}\n'
                f'--- stdout ---\n' + '\n'.join(self.lines('stdout')) + '\n'
                f'--- stderr ---\n' + '\n'.join(self.lines('stderr')))

    def wait_for_line(self, name, pattern, timeout=STEP_TIMEOUT):
        """Return the match of the first line of `name` ("stdout" or "stderr")
        that matches the regular expression `pattern`, or None on timeout or
        when the process has exited without printing it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout

        while True:
            exited = self.popen.poll() is not None
            if exited:
                # The readers may still hold the last lines of a dead process.
                for reader in self._readers:
                    reader.join(timeout=1)
            for line in self.lines(name):
                match = regex.search(line)
                if match:
                    return match
            if exited or time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def wait_for_json(self, name, predicate, timeout=STEP_TIMEOUT):
        """Return the first line of `name` that parses as a JSON object and
        satisfies `predicate`, or None."""
        def find():
            for line in self.lines(name):
                try:
                    value = json.loads(line)
                except ValueError:
                    continue
                if isinstance(value, dict) and predicate(value):
                    return value
            return None

        return wait_until(find, timeout)

    def stop(self, signal_number=signal.SIGTERM, timeout=STEP_TIMEOUT):
        """Send `signal_number` and return the exit status, or None when the
        process did not exit in time (it is then killed)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal_number)
        try:
            status = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        for reader in self._readers:
            reader.join(timeout=1)
        return status

    def wait(self, timeout=STEP_TIMEOUT):
        """Return the exit status, or None when the process is still running
        after `timeout` seconds."""
        try:
            status = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        for reader in self._readers:
            reader.join(timeout=1)
        return status

    def kill(self):
        """Kill the process if it still runs, and close its pipes."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=STEP_TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=1)
        self.popen.stdout.close()
        self.popen.stderr.close()


class TargetHandler(http.server.BaseHTTPRequestHandler):
    """Serves every GET with status 200 and a body that names the request path."""

    def do_GET(self):
        body = f'target reached at {self.path}\n'.encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def proxy_get(broker_address, session_id, token, url, timeout=STEP_TIMEOUT):
    """Send one absolute-form GET for `url` through the broker with the given
    proxy credentials, and return (status code, body bytes)."""
    host, port = broker_address.rsplit(':', 1)
    host = host.strip('[]')
    credentials = base64.b64encode(f'{session_id}:{token}'.encode()).decode()
    authority = url.split('/')[2]
    request = (f'GET {url} HTTP/1.1\r\n'
               f'Host: {authority}\r\n'
               f'Proxy-Authorization: Basic {credentials}\r\n'
               f'Connection: close\r\n\r\n').encode()

    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request)
        response = b''
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            response += chunk

    head, _, body = response.partition(b'\r\n\r\n')
    status_line = head.split(b'\r\n', 1)[0].decode('latin-1')
    match = re.match(r'HTTP/1\.[01] (\d{3})', status_line)
    if not match:
        raise AssertionError(f'no HTTP status line in the response: {response[:200]!r}')
    return int(match.group(1)), body


class CliTestCase(unittest.TestCase):
    """Gives each test a scratch folder and kills its children at the end."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix='swarm-cli-test-')
        self.addCleanup(shutil.rmtree, self.workdir, True)

    def start(self, args, env=None):
        child = Child(args, env)
        self.addCleanup(child.kill)
        return child

    def start_broker(self):
        """Start a broker on a free loopback port and return (child, address)."""
        broker = self.start(['broker', '--listen', f'{LOOPBACK}:0'])
        match = broker.wait_for_line('stdout', r'^broker listening on (\S+)$')
        self.assertIsNotNone(match, f'the broker printed no listening line\n{broker.describe()}')
        return broker, match.group(1)

    def start_target(self):
        """Serve TargetHandler on a free loopback port and return its base URL."""
        server = http.server.ThreadingHTTPServer((LOOPBACK, 0), TargetHandler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f'http://{LOOPBACK}:{server.server_address[1]}'

    def assert_fetch_through(self, broker_address, session_id, token, target_url):
        """Check that a request with these credentials reaches the target."""
        status, body = proxy_get(broker_address, session_id, token, target_url + '/through')
        self.assertEqual(status, 200, f'body: {body[:200]!r}')
        self.assertEqual(body, b'target reached at /through\n')

    def assert_usage_error(self, result, *fragments):
        """Check exit status 2 and an error message on stderr naming each of
        `fragments`."""
        self.assertEqual(result.returncode, 2, f'stderr: {result.stderr}')
        self.assertTrue(result.stderr.strip(), 'no error message on stderr')
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)
