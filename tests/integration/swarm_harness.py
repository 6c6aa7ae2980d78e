"""Harness for the end-to-end tests of the swarm-proxy binary.

Starts the real broker and provider as child processes, serves test targets
(plain HTTP and HTTPS) from threads of the test process, and talks to the
broker with raw sockets so that every byte on the worker side is visible.
Everything binds to loopback and to ports the kernel picks.

Child processes stay in the test's process group, so a runner that kills the
group on a timeout also kills them.  The harness kills them itself at the end
of each test, at exit, and on SIGTERM.
"""

import atexit
import base64
import functools
import hashlib
import http.server
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

LOOPBACK = '127.0.0.1'
LISTEN_LINE = re.compile(rb'broker listening on (\S+)')

_children = []
_temp_dirs = []


def _kill_children():
    for child in list(_children):
        if child.poll() is None:
            child.kill()
    for child in list(_children):
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _remove_temp_dirs():
    for path in list(_temp_dirs):
        shutil.rmtree(path, ignore_errors=True)


def _exit_on_signal(signum, frame):
    _kill_children()
    _remove_temp_dirs()
    os._exit(128 + signum)


atexit.register(_remove_temp_dirs)
atexit.register(_kill_children)
signal.signal(signal.SIGTERM, _exit_on_signal)
signal.signal(signal.SIGHUP, _exit_on_signal)


def swarm_proxy_path():
    path = os.environ.get('SWARM_PROXY')
    if not path:
        raise RuntimeError('SWARM_PROXY is not set; run the tests with meson test '
                           'or set it to the swarm-proxy executable')
    return path


def make_temp_dir(prefix='swarm-e2e-'):
    path = tempfile.mkdtemp(prefix=prefix)
    _temp_dirs.append(path)
    return path


def remove_temp_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    if path in _temp_dirs:
        _temp_dirs.remove(path)


def wait_until(predicate, timeout, interval=0.05, message='condition'):
    """Poll `predicate` until it returns a true value, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f'timed out after {timeout} s waiting for {message}')
        time.sleep(interval)


def free_port(host=LOOPBACK):
    """Return a port that was free a moment ago; nothing listens on it."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def split_host_port(address):
    host, _, port = address.rpartition(':')
    return host.strip('[]'), int(port)


def format_authority(host, port):
    if ':' in host:
        return f'[{host}]:{port}'
    return f'{host}:{port}'


def can_bind(host):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
        return True
    except OSError:
        return False


def count_fds(pid):
    return len(os.listdir(f'/proc/{pid}/fd'))


def describe_fds(pid):
    """Return the targets of a process's descriptors, for failure messages."""
    lines = []
    fd_dir = f'/proc/{pid}/fd'
    for name in sorted(os.listdir(fd_dir), key=int):
        try:
            lines.append(f'{name} -> {os.readlink(os.path.join(fd_dir, name))}')
        except OSError:
            pass
    return '\n'.join(lines)


# Deterministic content.  Both the target and the test derive the bytes of a
# path from a seeded generator in 64 KiB steps, so a download can be checked
# without keeping a copy of it.

CONTENT_STEP = 65536


def content_chunks(key, length):
    generator = random.Random(key)
    remaining = length
    while remaining > 0:
        size = min(CONTENT_STEP, remaining)
        yield generator.randbytes(size)
        remaining -= size


def content_bytes(key, length):
    return b''.join(content_chunks(key, length))


@functools.lru_cache(maxsize=256)
def content_sha256(key, length):
    digest = hashlib.sha256()
    for chunk in content_chunks(key, length):
        digest.update(chunk)
    return digest.hexdigest()


# Target servers.

class TargetHandler(http.server.BaseHTTPRequestHandler):
    """Endpoints of a test target.

    /name            the server's name
    /bytes/N[/KEY]   N deterministic bytes keyed by the path
    /slow/N?rate=R   N deterministic bytes at R bytes per second
    /chunked/N       N deterministic bytes in a chunked response
    /until-close/N   N deterministic bytes without framing, ended by closing
    /status/CODE     an empty response with that status and Content-Length: 0
    /echo            length and sha256 of the request body, as JSON
    /headers         the request headers as received, as JSON

    A query parameter close=1 makes any endpoint answer with Connection:
    close and close the connection after the response; close=silent closes
    it without announcing it, as a server ending an idle connection does.
    """

    protocol_version = 'HTTP/1.1'

    def log_message(self, format, *args):
        pass

    def handle(self):
        # A tunnel that a test cuts on purpose ends in a reset; that is not
        # an error of the target.
        try:
            super().handle()
        except (ConnectionError, TimeoutError, ssl.SSLError, OSError):
            self.close_connection = True

    def do_GET(self):
        self._dispatch(send_body=True)

    def do_HEAD(self):
        self._dispatch(send_body=False)

    def do_POST(self):
        self._dispatch(send_body=True)

    do_PUT = do_POST

    def _dispatch(self, send_body):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip('/').split('/')
        query = urllib.parse.parse_qs(url.query)
        self.server.record_request(self)
        route = parts[0]
        self.announce_close = True
        if query.get('close') == ['1']:
            self.close_connection = True
        elif query.get('close') == ['silent']:
            self.close_connection = True
            self.announce_close = False
        if route == 'name':
            self._send_simple(200, self.server.name.encode(), send_body)
        elif route == 'bytes' and len(parts) >= 2:
            length = int(parts[1])
            self._send_content(url.path, length, send_body, rate=None)
        elif route == 'slow' and len(parts) >= 2:
            length = int(parts[1])
            rate = int(query.get('rate', ['1048576'])[0])
            self._send_content(url.path, length, send_body, rate=rate)
        elif route == 'chunked' and len(parts) >= 2:
            self._send_chunked(url.path, int(parts[1]), send_body)
        elif route == 'until-close' and len(parts) >= 2:
            self._send_until_close(url.path, int(parts[1]), send_body)
        elif route == 'status' and len(parts) >= 2:
            self.send_response(int(parts[1]))
            self.send_header('Content-Length', '0')
            self.end_headers()
        elif route == 'echo':
            self._echo(send_body)
        elif route == 'headers':
            body = json.dumps([[name, value] for name, value in self.headers.items()])
            self._send_simple(200, body.encode(), send_body, 'application/json')
        else:
            self._send_simple(404, b'no such endpoint\n', send_body)

    def end_headers(self):
        if self.close_connection and getattr(self, 'announce_close', True):
            self.send_header('Connection', 'close')
        super().end_headers()

    def _send_until_close(self, key, length, send_body):
        self.close_connection = True
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.end_headers()
        if send_body:
            for chunk in content_chunks(key, length):
                self.wfile.write(chunk)

    def _send_simple(self, status, body, send_body, content_type='text/plain'):
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _send_content(self, key, length, send_body, rate):
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(length))
        self.end_headers()
        if not send_body:
            return
        started = time.monotonic()
        sent = 0
        for chunk in content_chunks(key, length):
            self.wfile.write(chunk)
            sent += len(chunk)
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)

    def _send_chunked(self, key, length, send_body):
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Transfer-Encoding', 'chunked')
        self.end_headers()
        if not send_body:
            return
        for chunk in content_chunks(key, length):
            # Split each step unevenly so chunk sizes vary.
            for piece in (chunk[:1000], chunk[1000:]):
                if piece:
                    self.wfile.write(b'%x\r\n%s\r\n' % (len(piece), piece))
        self.wfile.write(b'0\r\nX-Trailer: done\r\n\r\n')

    def _read_request_body(self):
        encoding = self.headers.get('Transfer-Encoding', '')
        if encoding.lower() == 'chunked':
            return self._read_chunked_body()
        length = int(self.headers.get('Content-Length', '0'))
        return self.rfile.read(length)

    def _read_chunked_body(self):
        body = bytearray()
        while True:
            size_line = self.rfile.readline(65537)
            size = int(size_line.split(b';')[0].strip(), 16)
            if size == 0:
                break
            body += self.rfile.read(size)
            self.rfile.readline(3)
        while self.rfile.readline(65537) not in (b'\r\n', b'\n', b''):
            pass
        return bytes(body)

    def _echo(self, send_body):
        body = self._read_request_body()
        self.server.record_body(self.path, body)
        answer = {
            'length': len(body),
            'sha256': hashlib.sha256(body).hexdigest(),
            'method': self.command,
            'transfer_encoding': self.headers.get('Transfer-Encoding'),
        }
        self._send_simple(200, json.dumps(answer).encode(), send_body, 'application/json')


class TargetServer(http.server.ThreadingHTTPServer):
    """A threaded HTTP/1.1 target on loopback, optionally behind TLS."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, name, host=LOOPBACK, tls_context=None):
        self.address_family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.name = name
        self.host = host
        self.tls_context = tls_context
        self.requests = []
        self.bodies = []
        self._records_lock = threading.Lock()
        self._thread = None
        super().__init__((host, 0), TargetHandler)

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's FQDN, which can wait on
        # a resolver; a test target has no use for it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.host
        self.server_port = self.server_address[1]

    def get_request(self):
        connection, address = self.socket.accept()
        if self.tls_context is not None:
            # The handshake runs in the handler thread on first read, so a
            # stalled client cannot block the accept loop.
            connection = self.tls_context.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def handle_error(self, request, client_address):
        pass

    @property
    def port(self):
        return self.server_address[1]

    @property
    def authority(self):
        return format_authority(self.host, self.port)

    def url(self, path):
        return f'http://{self.authority}{path}'

    def record_request(self, handler):
        with self._records_lock:
            self.requests.append((handler.command, handler.path, list(handler.headers.items())))

    def record_body(self, path, body):
        with self._records_lock:
            self.bodies.append((path, body))

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever,
                                        kwargs={'poll_interval': 0.1},
                                        name=f'target-{self.name}', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()


# A raw HTTP/1.x client for talking to the broker.

def proxy_authorization(session_id, token, scheme='Basic'):
    credentials = base64.b64encode(f'{session_id}:{token}'.encode()).decode()
    return f'Proxy-Authorization: {scheme} {credentials}'


def build_request(method, target, headers=(), body=b'', version='HTTP/1.1'):
    lines = [f'{method} {target} {version}'] + list(headers)
    return ('\r\n'.join(lines) + '\r\n\r\n').encode() + body


class Response:
    def __init__(self, version, status, reason, headers, head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.head = head
        self.body = b''

    def header(self, name):
        """Return the value of the first header called `name`, or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def header_values(self, name):
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def status_line(self):
        return f'{self.version} {self.status} {self.reason}'

    def describe(self):
        """Return the head and the start of the body, for failure messages."""
        return (self.head.decode('latin-1') +
                repr(self.body[:300]) + (' …' if len(self.body) > 300 else ''))


class BufferedConnection:
    """A connected socket with a read buffer, so that bytes read past one step
    (a head, a line) stay available to the next."""

    def __init__(self, sock, timeout=10.0):
        self.timeout = timeout
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buffer = bytearray()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def _fill(self):
        data = self.sock.recv(262144)
        if not data:
            raise EOFError('the broker closed the connection')
        self.buffer += data

    def read_head(self, limit=65536):
        while True:
            end = self.buffer.find(b'\r\n\r\n')
            if end >= 0:
                head = bytes(self.buffer[:end + 4])
                del self.buffer[:end + 4]
                return head
            if len(self.buffer) > limit:
                raise ValueError(f'no end of head in {limit} bytes: {bytes(self.buffer[:200])!r}')
            self._fill()

    def read_line(self):
        while True:
            end = self.buffer.find(b'\n')
            if end >= 0:
                line = bytes(self.buffer[:end + 1])
                del self.buffer[:end + 1]
                return line
            self._fill()

    def read_exact(self, length, sink=None):
        """Read `length` bytes; pass them to `sink` in pieces, or return them."""
        pieces = []
        remaining = length
        while remaining > 0:
            if not self.buffer:
                self._fill()
            piece = bytes(self.buffer[:remaining])
            del self.buffer[:len(piece)]
            remaining -= len(piece)
            if sink is not None:
                sink(piece)
            else:
                pieces.append(piece)
        return b''.join(pieces)

    def read_until_close(self, sink=None):
        pieces = [bytes(self.buffer)]
        self.buffer.clear()
        while True:
            data = self.sock.recv(262144)
            if not data:
                break
            pieces.append(data)
        data = b''.join(pieces)
        if sink is not None:
            sink(data)
            return b''
        return data

    def read_response_head(self):
        head = self.read_head()
        lines = head.decode('latin-1').split('\r\n')
        version, _, rest = lines[0].partition(' ')
        status_text, _, reason = rest.partition(' ')
        headers = []
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(':')
            headers.append((name.strip(), value.strip()))
        return Response(version, int(status_text), reason, headers, head)

    def read_response(self, method='GET', sink=None, keep_informational=False):
        """Read one response, framed as HTTP/1.1 says.

        Skips 1xx responses unless `keep_informational`.  A 200 to CONNECT
        ends at its head.  With `sink`, the body goes there and
        `Response.body` stays empty.
        """
        while True:
            response = self.read_response_head()
            if 100 <= response.status < 200 and not keep_informational:
                continue
            break
        if (method == 'HEAD' or 100 <= response.status < 200 or
                response.status in (204, 304) or
                (method == 'CONNECT' and 200 <= response.status < 300)):
            return response
        encoding = response.header('Transfer-Encoding')
        length = response.header('Content-Length')
        if encoding is not None and encoding.lower() == 'chunked':
            response.body = self._read_chunked(sink)
        elif length is not None:
            response.body = self.read_exact(int(length), sink)
        else:
            response.body = self.read_until_close(sink)
        return response

    def _read_chunked(self, sink):
        pieces = []
        while True:
            size = int(self.read_line().split(b';')[0].strip(), 16)
            if size == 0:
                break
            data = self.read_exact(size, sink)
            pieces.append(data)
            self.read_line()
        while self.read_line() not in (b'\r\n', b'\n'):
            pass
        return b''.join(pieces)

    def read_text_line(self):
        """Read one control line and return it without its line ending."""
        return self.read_line().decode('latin-1').rstrip('\r\n')

    def closed_by_peer(self, timeout=5.0):
        """Return True when the broker closes the connection within `timeout`
        seconds without sending anything more."""
        if self.buffer:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(self.timeout)
        return data == b''


class ProxyClient(BufferedConnection):
    """One TCP connection to the broker, speaking HTTP/1.x by hand."""

    def __init__(self, address, timeout=10.0):
        host, port = split_host_port(address)
        super().__init__(socket.create_connection((host, port), timeout=timeout), timeout)


def proxy_get(broker_address, url, session_id, token, timeout=10.0, extra_headers=()):
    """Send one absolute-form GET through the broker and return the response."""
    host = urllib.parse.urlsplit(url).netloc
    headers = [f'Host: {host}', proxy_authorization(session_id, token),
               'Connection: close'] + list(extra_headers)
    with ProxyClient(broker_address, timeout=timeout) as client:
        client.send(build_request('GET', url, headers))
        return client.read_response()


class RawTarget:
    """A plain TCP target on loopback that runs `behaviour(sock, record)` for
    each connection in its own thread; `record` is a dict the test can read."""

    def __init__(self, behaviour, host=LOOPBACK):
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.listener = socket.create_server((host, 0), family=family)
        self.host = host
        self.port = self.listener.getsockname()[1]
        self.behaviour = behaviour
        self.records = []
        self.threads = []
        self.accept_thread = threading.Thread(target=self._accept, daemon=True)
        self.accept_thread.start()

    @property
    def authority(self):
        return format_authority(self.host, self.port)

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            record = {'index': len(self.records)}
            self.records.append(record)
            thread = threading.Thread(target=self._run, args=(sock, record), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _run(self, sock, record):
        try:
            self.behaviour(sock, record)
        except OSError as error:
            record['error'] = error
        finally:
            sock.close()
            record['done'] = True

    def close(self):
        self.listener.close()


class FakeProvider:
    """A control connection that registers a session and then does what the
    test tells it, in place of a real provider."""

    def __init__(self, broker_address, session_id, token, answer_opened=False):
        self.lines = []
        self.answer_opened = answer_opened
        self.stop_event = threading.Event()
        host, port = split_host_port(broker_address)
        self.connection = BufferedConnection(socket.create_connection((host, port), timeout=10))
        self.connection.send(f'PROVIDER {session_id} {token}\n'.encode())
        self.registration = self.connection.read_text_line()
        # A short timeout lets the reader notice close(); a timeout in the
        # middle of a line keeps the partial line in the buffer.
        self.connection.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._read_lines, daemon=True)
        self.thread.start()

    def _read_lines(self):
        while not self.stop_event.is_set():
            try:
                text = self.connection.read_text_line()
            except socket.timeout:
                continue
            except (OSError, EOFError):
                return
            self.lines.append(text)
            fields = text.split(' ')
            if self.answer_opened and fields[0] == 'OPEN' and len(fields) == 4:
                # Claim success without ever attaching a data connection.
                self.connection.send(f'OPENED {fields[1]}\n'.encode())

    def close(self):
        self.stop_event.set()
        self.thread.join(timeout=2)
        self.connection.close()


class FakeBroker:
    """A listening socket that hands each incoming connection, with its first
    line read, to the test, in place of a real broker."""

    def __init__(self, timeout=10.0):
        self.timeout = timeout
        self.listener = socket.create_server((LOOPBACK, 0))
        self.address = f'{LOOPBACK}:{self.listener.getsockname()[1]}'
        self.connections = queue.Queue()
        self.accepted = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            connection = BufferedConnection(sock, self.timeout)
            self.accepted.append(connection)
            threading.Thread(target=self._read_first_line, args=(connection,),
                             daemon=True).start()

    def _read_first_line(self, connection):
        try:
            line = connection.read_text_line()
        except (OSError, EOFError):
            line = None
        self.connections.put((connection, line))

    def next_connection(self, timeout=15.0):
        """Return (connection, first line) of the next connection, first
        line None when it closed before a whole line arrived."""
        try:
            return self.connections.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f'no connection to the fake broker within {timeout} s') from None

    def close(self):
        self.listener.close()
        for connection in self.accepted:
            connection.close()


class ManagedProcess:
    """A child process with its output in a log file."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(workdir, f'{name}.log')
        self._log = open(self.log_path, 'wb')
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, env=env)
        _children.append(self.popen)

    @property
    def pid(self):
        return self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def output(self):
        with open(self.log_path, 'rb') as log:
            return log.read()

    def kill(self, sig=signal.SIGKILL):
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)
        self._log.close()
        if self.popen in _children:
            _children.remove(self.popen)

    def tail(self, lines=40):
        text = self.output().decode('utf-8', 'replace').splitlines()
        return '\n'.join(text[-lines:])


class Broker(ManagedProcess):
    def __init__(self, workdir, listen=f'{LOOPBACK}:0', open_timeout=None, name='broker',
                 extra_args=(), extra_env=None):
        argv = [swarm_proxy_path(), 'broker', '--listen', listen]
        if open_timeout is not None:
            argv += ['--open-timeout', str(open_timeout)]
        argv += list(extra_args)
        env = dict(os.environ, **(extra_env or {}))
        super().__init__(name, argv, workdir, env=env)
        self.address = self._wait_for_address()
        self.host, self.port = split_host_port(self.address)

    def _wait_for_address(self, timeout=10):
        def find():
            match = LISTEN_LINE.search(self.output())
            if match:
                return match.group(1).decode()
            if not self.running():
                raise RuntimeError(f'broker exited with status {self.popen.returncode} '
                                   f'before listening:\n{self.tail()}')
            return None
        try:
            return wait_until(find, timeout, message='"broker listening on" in its output')
        except TimeoutError as error:
            raise TimeoutError(f'{error}\n{self.tail()}') from None


class Provider(ManagedProcess):
    def __init__(self, workdir, broker_address, session_id, token, allow_private=True,
                 token_source='argument', name='provider', extra_args=(), extra_env=None):
        argv = [swarm_proxy_path(), 'provider', '--broker', broker_address,
                '--session-id', session_id]
        env = dict(os.environ, **(extra_env or {}))
        env.pop('SWARM_PROXY_TOKEN', None)
        if token_source == 'argument':
            argv += ['--token', token]
        elif token_source == 'file':
            token_path = os.path.join(workdir, f'{name}.token')
            with open(token_path, 'w') as token_file:
                token_file.write(token + '\n')
            argv += ['--token-file', token_path]
        elif token_source == 'environment':
            env['SWARM_PROXY_TOKEN'] = token
        else:
            raise ValueError(f'unknown token source {token_source!r}')
        if allow_private:
            argv.append('--allow-private')
        argv += list(extra_args)
        super().__init__(name, argv, workdir, env=env)
        self.session_id = session_id
        self.token = token


def issue_ticket(session_id, broker_address, extra_args=()):
    """Run `swarm-proxy --json ticket` and return the parsed ticket."""
    argv = [swarm_proxy_path(), '--json', 'ticket', '--session-id', session_id,
            '--broker', broker_address] + list(extra_args)
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
    if result.returncode != 0:
        raise RuntimeError(f'{" ".join(argv[1:])} exited with {result.returncode}: '
                           f'{result.stderr.decode(errors="replace")}')
    return json.loads(result.stdout)


def wait_for_session(broker_address, session_id, token, target_url, timeout=20.0):
    """Poll the broker until the session has a provider, i.e. a request through
    it gets anything but 503, and return that response."""
    last = ['no answer yet']

    def probe():
        try:
            response = proxy_get(broker_address, target_url, session_id, token, timeout=10)
        except (OSError, EOFError, ValueError) as error:
            last[0] = f'{type(error).__name__}: {error}'
            return None
        last[0] = response.status_line
        return response if response.status != 503 else None

    try:
        return wait_until(probe, timeout, interval=0.1,
                          message=f'a provider for session {session_id}')
    except TimeoutError as error:
        raise TimeoutError(f'{error}; last probe: {last[0]}') from None


def random_token():
    return base64.urlsafe_b64encode(os.urandom(18)).decode()


def make_test_ca(directory):
    """Create a throwaway CA and a server certificate for 127.0.0.1, ::1 and
    localhost with openssl.  Return (ca_path, cert_path, key_path)."""
    ca_key = os.path.join(directory, 'ca.key')
    ca_cert = os.path.join(directory, 'ca.pem')
    server_key = os.path.join(directory, 'server.key')
    server_csr = os.path.join(directory, 'server.csr')
    server_cert = os.path.join(directory, 'server.pem')
    extensions = os.path.join(directory, 'server.ext')
    with open(extensions, 'w') as ext:
        ext.write('basicConstraints = critical, CA:FALSE\n'
                  'keyUsage = critical, digitalSignature\n'
                  'extendedKeyUsage = serverAuth\n'
                  'subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost\n')
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    commands = [
        ['openssl', 'req', '-x509', *ec, '-keyout', ca_key, '-out', ca_cert, '-days', '1',
         '-subj', '/CN=swarm-proxy test CA',
         '-addext', 'basicConstraints=critical,CA:TRUE',
         '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
        ['openssl', 'req', *ec, '-keyout', server_key, '-out', server_csr,
         '-subj', '/CN=localhost'],
        ['openssl', 'x509', '-req', '-in', server_csr, '-CA', ca_cert, '-CAkey', ca_key,
         '-CAcreateserial', '-out', server_cert, '-days', '1', '-extfile', extensions],
    ]
    for argv in commands:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=30, cwd=directory)
        if result.returncode != 0:
            raise RuntimeError(f'{" ".join(argv)} failed: {result.stderr.decode(errors="replace")}')
    return ca_cert, server_cert, server_key


class SwarmTestCase(unittest.TestCase):
    """Base class: a temp dir per test, helpers that register their own
    cleanup, and the tail of every child's output when a test fails."""

    def setUp(self):
        self.workdir = make_temp_dir()
        self.addCleanup(remove_temp_dir, self.workdir)
        self._processes = []
        self.addCleanup(self._dump_output_on_failure)

    def _failed(self):
        outcome = getattr(self, '_outcome', None)
        return outcome is None or not getattr(outcome, 'success', False)

    def _dump_output_on_failure(self):
        if not self._failed():
            return
        for process in self._processes:
            try:
                text = process.tail()
            except OSError:
                continue
            sys.stderr.write(f'--- last output of {process.name} (pid {process.pid}) ---\n'
                             f'{text}\n')

    def start_broker(self, **kwargs):
        broker = Broker(self.workdir, **kwargs)
        self._processes.append(broker)
        self.addCleanup(broker.kill)
        return broker

    def start_provider(self, broker_address, session_id, token, **kwargs):
        provider = Provider(self.workdir, broker_address, session_id, token, **kwargs)
        self._processes.append(provider)
        self.addCleanup(provider.kill)
        return provider

    def start_raw_target(self, behaviour, host=LOOPBACK):
        target = RawTarget(behaviour, host)
        self.addCleanup(target.close)
        return target

    def start_fake_broker(self):
        fake = FakeBroker()
        self.addCleanup(fake.close)
        return fake

    def start_target(self, name, host=LOOPBACK, tls_context=None):
        server = TargetServer(name, host=host, tls_context=tls_context).start()
        self.addCleanup(server.stop)
        return server

    def start_fake_provider(self, broker_address, session_id, token, **kwargs):
        fake = FakeProvider(broker_address, session_id, token, **kwargs)
        self.addCleanup(fake.close)
        return fake

    def share_session(self, session_id=None, token=None, target=None, broker_kwargs=None,
                      **provider_kwargs):
        """Start a broker, a provider and a target, and wait until a request
        through the session reaches the target."""
        broker = self.start_broker(**(broker_kwargs or {}))
        session_id = session_id or f'session-{os.getpid()}'
        token = token or random_token()
        target = target or self.start_target('target')
        provider = self.start_provider(broker.address, session_id, token, **provider_kwargs)
        wait_for_session(broker.address, session_id, token, target.url('/name'))
        return broker, provider, target, session_id, token

    def assert_not_logged(self, secret):
        """Check that no child process wrote `secret` to its output."""
        for process in self._processes:
            self.assertNotIn(secret.encode(), process.output(),
                             f'{process.name} wrote a secret to its log')

    def run_curl(self, args, timeout=60):
        argv = ['curl', '--silent', '--show-error', '--noproxy', '', *args]
        env = {key: value for key, value in os.environ.items()
               if key.lower() not in ('http_proxy', 'https_proxy', 'all_proxy', 'no_proxy')}
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, env=env)

    def assert_error_response(self, response, status, client=None):
        """Check one of the broker's own error responses, one condition at a time."""
        context = f'\nresponse was:\n{response.describe()}'
        self.assertEqual(response.status, status, f'status{context}')
        self.assertEqual(response.version, 'HTTP/1.1', f'version{context}')
        connection = (response.header('Connection') or '').lower()
        self.assertEqual(connection, 'close', f'Connection header{context}')
        content_type = response.header('Content-Type') or ''
        self.assertTrue(content_type.lower().startswith('text/plain'),
                        f'Content-Type is {content_type!r}{context}')
        self.assertTrue(response.body.strip(), f'empty body{context}')
        if client is not None:
            self.assertTrue(client.closed_by_peer(timeout=5),
                            f'the broker kept the connection open after {status}{context}')
