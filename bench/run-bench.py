#!/usr/bin/python3
"""Benchmark swarm-proxy against direct access and tinyproxy, on loopback only.

Starts a target server, a broker, a provider and tinyproxy on 127.0.0.1,
measures bulk throughput (curl), request rate with one tunnel per request
(ab) and resident memory per idle CONNECT tunnel, stops everything and prints
markdown tables on stdout. Progress goes to stderr.

Needs curl, ab (Debian apache2-utils) and tinyproxy on PATH, and a built
swarm-proxy binary. Every step has a time limit and the whole run is kept
under --budget seconds.
"""

import argparse
import datetime
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SESSION_ID = "bench"
TOKEN = "bench-token-not-secret"
SMALL_BODY = b"x" * 99 + b"\n"
BULK_CHUNK_BYTES = 16 * 1024 * 1024
MAX_HELD_CONNECTIONS = 5000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message):
    print("[bench] " + message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Target server, run as a child process of this script (--serve-target).
# ---------------------------------------------------------------------------

def read_request_head(conn):
    """Read up to the end of the request headers; return the request line."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def send_head(conn, status, length):
    head = ("HTTP/1.1 %s\r\nContent-Type: application/octet-stream\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (status, length))
    conn.sendall(head.encode("ascii"))


def serve_one(conn, chunk_file, held):
    try:
        conn.settimeout(120)
        request_line = read_request_head(conn)
        if request_line is None:
            return
        parts = request_line.split(" ")
        path = parts[1] if len(parts) >= 2 else "/"
        if path == "/small":
            send_head(conn, "200 OK", len(SMALL_BODY))
            conn.sendall(SMALL_BODY)
        elif path.startswith("/bulk/"):
            total = int(path[len("/bulk/"):])
            send_head(conn, "200 OK", total)
            remaining = total
            # The kernel copies the page-cached chunk file, so the target
            # costs little CPU and the loopback path is what gets measured.
            with open(chunk_file, "rb") as chunk:
                while remaining > 0:
                    count = min(remaining, BULK_CHUNK_BYTES)
                    sent = conn.sendfile(chunk, 0, count)
                    if sent <= 0:
                        break
                    remaining -= sent
        elif path == "/held":
            body = ("%d\n" % len(held)).encode("ascii")
            send_head(conn, "200 OK", len(body))
            conn.sendall(body)
        else:
            send_head(conn, "404 Not Found", 0)
    except (OSError, ValueError):
        pass
    finally:
        conn.close()


def accept_http(listener, chunk_file, held):
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        thread = threading.Thread(target=serve_one, args=(conn, chunk_file, held),
                                  daemon=True)
        thread.start()


def hold_connections(listener, held):
    """Accept connections, never write to them, and close each on EOF.

    Closing on EOF lets a tunnel end once the worker side has closed, so the
    memory step can check that the proxy gives back its sockets.
    """
    listener.setblocking(False)
    poller = selectors.DefaultSelector()
    poller.register(listener, selectors.EVENT_READ)
    while True:
        for key, _ in poller.select():
            if key.fileobj is listener:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                if len(held) >= MAX_HELD_CONNECTIONS:
                    conn.close()
                    continue
                conn.setblocking(False)
                held.add(conn)
                poller.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                poller.unregister(conn)
                held.discard(conn)
                conn.close()


def serve_target(chunk_file):
    raise_nofile_limit()
    held = set()
    http_listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    hold_listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    threading.Thread(target=hold_connections, args=(hold_listener, held),
                     daemon=True).start()
    print("ports %d %d" % (http_listener.getsockname()[1],
                           hold_listener.getsockname()[1]), flush=True)
    # The parent stops this process with SIGTERM.
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
    accept_http(http_listener, chunk_file, held)


# ---------------------------------------------------------------------------
# Process and /proc helpers.
# ---------------------------------------------------------------------------

def raise_nofile_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target_limit = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target_limit:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target_limit, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of /proc/PID/stat (1-based).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def nofile_limit_of(pid):
    with open("/proc/%d/limits" % pid) as limits:
        for line in limits:
            if line.startswith("Max open files"):
                return " / ".join(line.split()[3:5])
    return "unknown"


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout, description):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, description))


def file_text(path):
    try:
        with open(path, errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


class Processes:
    """Children started by the benchmark, stopped in reverse order."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.started = []

    def start(self, name, argv, env=None, stdout=None, nofile=None):
        out_path = os.path.join(self.workdir, name + ".out")
        err_path = os.path.join(self.workdir, name + ".err")
        out = open(out_path, "wb") if stdout is None else stdout
        err = open(err_path, "wb")
        preexec = None
        if nofile:
            def preexec():
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, env=env, preexec_fn=preexec)
        self.started.append((name, proc))
        proc.out_path = out_path
        proc.err_path = err_path
        return proc

    def stop(self, proc, timeout=5):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log("pid %d did not stop on SIGTERM within %d s, killing it"
                    % (proc.pid, timeout))
                proc.kill()
                proc.wait(timeout)
        self.started = [(n, p) for (n, p) in self.started if p is not proc]

    def stop_all(self):
        for _, proc in reversed(list(self.started)):
            self.stop(proc)


def proxy_status(proxy_port, target_url, credentials, timeout=5.0):
    """Send one absolute-form GET through a proxy and return the status code."""
    head = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % target_url
    if credentials:
        head += "Proxy-Authorization: Basic %s\r\n" % credentials
    head += "\r\n"
    try:
        with socket.create_connection(("127.0.0.1", proxy_port), timeout) as conn:
            conn.sendall(head.encode("ascii"))
            reply = conn.recv(4096)
    except OSError:
        return 0
    match = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    return int(match.group(1)) if match else 0


def basic_credentials():
    import base64
    return base64.b64encode(("%s:%s" % (SESSION_ID, TOKEN)).encode()).decode()


# ---------------------------------------------------------------------------
# Starting the components.
# ---------------------------------------------------------------------------

def start_target(procs, workdir):
    chunk_file = os.path.join(workdir, "chunk.bin")
    with open(chunk_file, "wb") as chunk:
        chunk.write(os.urandom(BULK_CHUNK_BYTES))
    out_path = os.path.join(workdir, "target.out")
    proc = procs.start("target", [sys.executable, os.path.abspath(__file__),
                                  "--serve-target", chunk_file])

    def ports():
        match = re.search(r"ports (\d+) (\d+)", file_text(out_path))
        return (int(match.group(1)), int(match.group(2))) if match else None

    http_port, hold_port = wait_for(ports, 10, "the target server's ports")
    return proc, http_port, hold_port


def start_swarm(procs, binary, target_port, suffix="", nofile=None):
    broker = procs.start("broker" + suffix, [binary, "broker", "--listen",
                                             "127.0.0.1:0"], nofile=nofile)

    def broker_addr():
        match = re.search(r"broker listening on 127\.0\.0\.1:(\d+)",
                          file_text(broker.out_path))
        return int(match.group(1)) if match else None

    broker_port = wait_for(broker_addr, 10, "the broker's listening line")
    env = dict(os.environ)
    # The token goes through the environment so it stays out of argv.
    env["SWARM_PROXY_TOKEN"] = TOKEN
    provider = procs.start("provider" + suffix,
                           [binary, "provider", "--broker",
                            "127.0.0.1:%d" % broker_port, "--session-id", SESSION_ID,
                            "--allow-private"], env=env, nofile=nofile)
    url = "http://127.0.0.1:%d/small" % target_port
    wait_for(lambda: proxy_status(broker_port, url, basic_credentials()) == 200,
             10, "a 200 through the broker")
    return broker, provider, broker_port


def start_tinyproxy(procs, workdir, target_port):
    port = free_port()
    conf = os.path.join(workdir, "tinyproxy.conf")
    with open(conf, "w") as handle:
        handle.write("Port %d\n" % port)
        handle.write("Listen 127.0.0.1\n")
        handle.write("Timeout 600\n")
        handle.write("MaxClients 2000\n")
        handle.write("LogLevel Error\n")
        handle.write('LogFile "%s"\n' % os.path.join(workdir, "tinyproxy.log"))
        handle.write('PidFile "%s"\n' % os.path.join(workdir, "tinyproxy.pid"))
        handle.write("Allow 127.0.0.1\n")
        handle.write("DisableViaHeader Yes\n")
        handle.write("ConnectPort %d\n" % target_port)
    proc = procs.start("tinyproxy", ["tinyproxy", "-d", "-c", conf])
    url = "http://127.0.0.1:%d/small" % target_port
    wait_for(lambda: proxy_status(port, url, None) == 200, 10,
             "a 200 through tinyproxy")
    return proc, port


def child_pids(parent):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            pids.append(int(entry))
    return pids


def start_nginx(procs, workdir, nginx):
    """Start nginx as the small-response target, or return None without it.

    The Python target creates a thread per connection and used over a core
    at about 4,700 requests/s on a 2-core VM, too close to the proxied rates.
    """
    if not nginx or not os.access(nginx, os.X_OK):
        return None
    port = free_port()
    prefix = os.path.join(workdir, "nginx")
    os.makedirs(prefix)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as handle:
        handle.write("daemon off;\n")
        handle.write("worker_processes 1;\n")
        handle.write("pid %s/nginx.pid;\n" % prefix)
        handle.write("error_log %s/error.log error;\n" % prefix)
        handle.write("events { worker_connections 8192; }\n")
        handle.write("http {\n")
        handle.write("  access_log off;\n")
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            handle.write("  %s_temp_path %s/%s;\n" % (kind, prefix, kind))
        handle.write("  server {\n")
        handle.write("    listen 127.0.0.1:%d backlog=4096;\n" % port)
        handle.write("    location = /small {\n")
        handle.write("      default_type application/octet-stream;\n")
        handle.write('      return 200 "%s";\n' % SMALL_BODY.decode("ascii")
                     .replace("\n", "\\n"))
        handle.write("    }\n  }\n}\n")
    proc = procs.start("nginx", [nginx, "-p", prefix + "/", "-e",
                                 prefix + "/error.log", "-c", conf])

    def answers():
        try:
            with socket.create_connection(("127.0.0.1", port), 1) as conn:
                conn.sendall(b"GET /small HTTP/1.0\r\n\r\n")
                return conn.recv(4096).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    wait_for(answers, 10, "nginx to answer")
    return proc, port


# ---------------------------------------------------------------------------
# Measurements.
# ---------------------------------------------------------------------------

class Budget:
    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds

    def left(self):
        return self.deadline - time.monotonic()


def cpu_snapshot(watched):
    """Return the CPU seconds used so far by each named group of processes."""
    return {name: sum(cpu_seconds(pid) for pid in pids)
            for name, pids in watched.items()}


def cpu_percent(before, after, wall):
    return {name: 100.0 * (after[name] - before[name]) / wall for name in before}


def run_curl(url, proxy_port, credentials, tunnel, timeout):
    argv = ["curl", "-sS", "-o", "/dev/null", "--max-time", "%d" % timeout,
            "-w", "%{http_code} %{size_download} %{speed_download}"]
    if proxy_port:
        argv += ["--proxy", "http://127.0.0.1:%d" % proxy_port]
    if credentials:
        argv += ["--proxy-user", credentials]
    if tunnel:
        argv.append("-p")
    argv.append(url)
    result = subprocess.run(argv, capture_output=True, text=True,
                            timeout=timeout + 10)
    fields = result.stdout.split()
    if result.returncode != 0 or len(fields) != 3:
        raise RuntimeError("curl failed (exit %d): %s %s"
                           % (result.returncode, result.stdout, result.stderr.strip()))
    return int(fields[0]), int(fields[1]), float(fields[2])


def measure_bulk(paths, bulk_bytes, repeats, budget, watched):
    rows = []
    for label, proxy_port, credentials, tunnel, target_url in paths:
        speeds = []
        cpu = {}
        note = ""
        for _ in range(repeats):
            if budget.left() < 60:
                note = "stopped early: time budget"
                break
            before = cpu_snapshot(watched)
            children_before = children_cpu_seconds()
            started = time.monotonic()
            try:
                status, size, speed = run_curl(target_url, proxy_port, credentials,
                                               tunnel, 60)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                note = str(error)
                break
            wall = time.monotonic() - started
            if status != 200 or size != bulk_bytes:
                note = "status %d, %d of %d bytes" % (status, size, bulk_bytes)
                break
            speeds.append(speed / (1024 * 1024))
            percent = cpu_percent(before, cpu_snapshot(watched), wall)
            percent["curl"] = 100.0 * (children_cpu_seconds() - children_before) / wall
            for name, value in percent.items():
                cpu.setdefault(name, []).append(value)
        rows.append({"label": label, "speeds": speeds, "note": note,
                     "cpu": {n: statistics.median(v) for n, v in cpu.items()}})
        log("bulk %-28s %s MiB/s %s" % (label, ["%.0f" % s for s in speeds], note))
    return rows


AB_PATTERNS = {
    "complete": r"Complete requests:\s+(\d+)",
    "failed": r"Failed requests:\s+(\d+)",
    "non2xx": r"Non-2xx responses:\s+(\d+)",
    "rps": r"Requests per second:\s+([\d.]+)",
    "taken": r"Time taken for tests:\s+([\d.]+)",
}


def read_percentiles(csv_path):
    """Return {percent: ms} from the CSV that ab -e writes."""
    percentiles = {}
    for line in file_text(csv_path).splitlines()[1:]:
        percent, _, millis = line.partition(",")
        try:
            percentiles[int(percent)] = float(millis)
        except ValueError:
            continue
    return percentiles


def run_ab(label, url, proxy_port, credentials, concurrency, requests, seconds,
           watched, workdir):
    # ab -e gives the percentiles in fractions of a millisecond, while its
    # printed table rounds them to whole milliseconds.
    csv_path = os.path.join(workdir, "ab-%s-c%d.csv" % (label, concurrency))
    # -t comes before -n because ab's -t also resets the request count.
    argv = ["ab", "-q", "-r", "-s", "10", "-e", csv_path, "-t", "%d" % seconds,
            "-n", "%d" % requests, "-c", "%d" % concurrency]
    if proxy_port:
        argv += ["-X", "127.0.0.1:%d" % proxy_port]
    if credentials:
        argv += ["-P", credentials]
    argv.append(url)
    before = cpu_snapshot(watched)
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True,
                            timeout=seconds + 30)
    wall = time.monotonic() - started
    row = {"label": label, "c": concurrency, "note": ""}
    for key, pattern in AB_PATTERNS.items():
        match = re.search(pattern, result.stdout, re.MULTILINE)
        row[key] = float(match.group(1)) if match else None
    row["non2xx"] = row["non2xx"] or 0
    percentiles = read_percentiles(csv_path)
    row["p50"] = percentiles.get(50)
    row["p99"] = percentiles.get(99)
    row["cpu"] = cpu_percent(before, cpu_snapshot(watched), wall)
    if result.returncode != 0 or row["rps"] is None:
        row["note"] = "ab exit %d: %s" % (result.returncode,
                                          result.stderr.strip()[-200:])
    log("ab %-22s c=%-3d %s req/s, failed %s, non-2xx %s %s"
        % (label, concurrency, row["rps"], row["failed"], row["non2xx"],
           row["note"]))
    return row


def open_connect_tunnel(broker_port, hold_port, timeout):
    conn = socket.create_connection(("127.0.0.1", broker_port), timeout)
    conn.settimeout(timeout)
    request = ("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
               "Proxy-Authorization: Basic %s\r\n\r\n"
               % (hold_port, hold_port, basic_credentials()))
    conn.sendall(request.encode("ascii"))
    reply = b""
    while b"\r\n\r\n" not in reply and len(reply) < 8192:
        chunk = conn.recv(4096)
        if not chunk:
            break
        reply += chunk
    if not reply.startswith(b"HTTP/1.1 200") and not reply.startswith(b"HTTP/1.0 200"):
        conn.close()
        raise RuntimeError("CONNECT returned %r" % reply[:80])
    return conn


def held_count(http_port):
    with socket.create_connection(("127.0.0.1", http_port), 5) as conn:
        conn.sendall(b"GET /held HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = b""
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b"\r\n\r\n", 1)[1])


def process_usage(proc):
    """Return (VmRSS KiB, open fds) of a child, or (None, None) once it exited."""
    if proc.poll() is not None:
        return None, None
    try:
        return vm_rss_kib(proc.pid), fd_count(proc.pid)
    except (OSError, RuntimeError):
        return None, None


def record_usage(result, stage, broker, provider):
    for name, proc in (("broker", broker), ("provider", provider)):
        rss, fds = process_usage(proc)
        result["%s_rss_%s" % (name, stage)] = rss
        result["%s_fds_%s" % (name, stage)] = fds
        if rss is None and "exited" not in result["error"]:
            result["error"] += " %s exited with status %s." % (name, proc.returncode)


def measure_memory(procs, binary, http_port, hold_port, tunnels, budget, nofile,
                   small_url, workdir):
    # A fresh broker and provider, so memory freed by earlier steps does not
    # hide the growth; a few warm-up tunnels first pay for one-time setup.
    broker, provider, broker_port = start_swarm(procs, binary, http_port, "-mem",
                                                nofile)
    result = {"tunnels_requested": tunnels, "opened": 0, "error": "",
              "nofile_broker": nofile_limit_of(broker.pid),
              "nofile_provider": nofile_limit_of(provider.pid)}
    warm = [open_connect_tunnel(broker_port, hold_port, 10) for _ in range(10)]
    for conn in warm:
        conn.close()
    time.sleep(1.0)

    # New tunnels must not get slower as idle ones pile up: the same
    # one-client request rate, without and with the idle tunnels.
    credentials = "%s:%s" % (SESSION_ID, TOKEN)
    watched = {"broker": [broker.pid], "provider": [provider.pid]}
    result["rps"] = [run_ab("0 idle tunnels", small_url, broker_port, credentials, 1,
                            1000, 10, watched, workdir)]

    result["held_before"] = held_count(http_port)
    record_usage(result, "before", broker, provider)
    conns = []
    started = time.monotonic()
    try:
        for _ in range(tunnels):
            if budget.left() < 20:
                result["error"] = "stopped early: time budget."
                break
            conns.append(open_connect_tunnel(broker_port, hold_port, 10))
    except (OSError, RuntimeError) as error:
        result["error"] = "tunnel %d failed: %s." % (len(conns) + 1, error)
    result["open_seconds"] = time.monotonic() - started
    result["opened"] = len(conns)

    # Let the provider's side settle before reading the counters.
    time.sleep(2.0)
    record_usage(result, "open", broker, provider)
    result["held_open"] = held_count(http_port)
    result["rps"].append(run_ab("%d idle tunnels" % len(conns), small_url, broker_port,
                                credentials, 1, 1000, 10, watched, workdir))

    for conn in conns:
        conn.close()
    time.sleep(2.0)
    record_usage(result, "closed", broker, provider)

    procs.stop(provider)
    procs.stop(broker)
    result["logs"] = file_text(broker.err_path) + file_text(provider.err_path)
    log("memory: %d tunnels, broker %s -> %s KiB, provider %s -> %s KiB %s"
        % (result["opened"], result["broker_rss_before"], result["broker_rss_open"],
           result["provider_rss_before"], result["provider_rss_open"],
           result["error"]))
    return result


# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------

def machine_facts():
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = open("/proc/loadavg").read().split()[:3]
    return [
        ("date (UTC)", datetime.datetime.now(datetime.timezone.utc)
         .strftime("%Y-%m-%d %H:%M")),
        ("CPU", model),
        ("cores", str(os.cpu_count())),
        ("kernel", platform.release()),
        ("load average at start (1, 5, 15 min)", " ".join(load)),
    ]


def tool_versions(binary, nginx):
    versions = []
    for name, argv in (("swarm-proxy", [binary, "--version"]),
                       ("curl", ["curl", "--version"]),
                       ("ab", ["ab", "-V"]),
                       ("tinyproxy", ["tinyproxy", "-v"]),
                       ("nginx", [nginx or "nginx", "-v"])):
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            text = (result.stdout or result.stderr).strip().splitlines()
            # Only the leading words: curl lists every library it links.
            versions.append((name, " ".join(text[0].split()[:5]) if text else "unknown"))
        except (OSError, subprocess.TimeoutExpired):
            versions.append((name, "not found"))
    return versions


def format_cpu(cpu, names):
    # Idle processes of the other paths would only add noise.
    return ", ".join("%s %.0f%%" % (n, cpu[n]) for n in names
                     if n in cpu and cpu[n] >= 0.5)


def print_report(facts, versions, bulk, ab_rows, memory, args):
    print("## Machine\n")
    print("| fact | value |\n| --- | --- |")
    for name, value in facts + versions:
        print("| %s | %s |" % (name, value))
    if bulk is not None:
        print_bulk(bulk, args)
    if ab_rows is not None:
        print_rps(ab_rows)
    if memory is not None:
        print_memory(memory)


def print_bulk(bulk, args):
    print("\n## Bulk download of %d MiB (median of %d)\n"
          % (args.bulk_mib, args.repeats))
    print("| path | MiB/s | range | ratio to direct | CPU (% of one core) | note |")
    print("| --- | ---: | --- | ---: | --- | --- |")
    direct = None
    for row in bulk:
        if not row["speeds"]:
            print("| %s | - | - | - | - | %s |" % (row["label"], row["note"]))
            continue
        speed = statistics.median(row["speeds"])
        if direct is None and row["label"] == "direct":
            direct = speed
        ratio = "%.2f" % (speed / direct) if direct else "-"
        print("| %s | %.0f | %.0f-%.0f | %s | %s | %s |"
              % (row["label"], speed, min(row["speeds"]), max(row["speeds"]), ratio,
                 format_cpu(row["cpu"], ("curl", "target", "broker", "provider",
                                         "tinyproxy")),
                 row["note"]))


def print_rps(ab_rows):
    print("\n## Small responses (%d bytes), one connection and tunnel per request\n"
          % len(SMALL_BODY))
    print("| path | clients | requests | failed | non-2xx | req/s | p50 ms | p99 ms "
          "| CPU (% of one core) | note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")

    def number(value, digits=0):
        return "-" if value is None else "%.*f" % (digits, value)

    for row in ab_rows:
        print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |"
              % (row["label"], row["c"], number(row["complete"]), number(row["failed"]),
                 number(row["non2xx"]), number(row["rps"]), number(row["p50"], 2),
                 number(row["p99"], 2),
                 format_cpu(row["cpu"], ("target", "broker", "provider", "tinyproxy")),
                 row["note"]))


def print_memory(memory):
    print("\n## Resident memory per idle CONNECT tunnel\n")
    opened = memory["opened"]
    print("Tunnels requested %d, opened %d, held by the target %d (in %.1f s). "
          "Max open files (soft / hard): broker %s, provider %s.\n"
          % (memory["tunnels_requested"], opened,
             memory["held_open"] - memory["held_before"], memory["open_seconds"],
             memory["nofile_broker"], memory["nofile_provider"]))
    print("| process | VmRSS before KiB | VmRSS with tunnels KiB | KiB per tunnel "
          "| fds before | fds with tunnels | VmRSS after closing KiB | fds after closing |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

    def value(number):
        return "-" if number is None else "%d" % number

    growth = []
    for name in ("broker", "provider"):
        before = memory[name + "_rss_before"]
        after = memory[name + "_rss_open"]
        per = "-"
        if opened and before is not None and after is not None:
            growth.append(after - before)
            per = "%.1f" % ((after - before) / opened)
        print("| %s | %s | %s | %s | %s | %s | %s | %s |"
              % (name, value(before), value(after), per,
                 value(memory[name + "_fds_before"]), value(memory[name + "_fds_open"]),
                 value(memory[name + "_rss_closed"]), value(memory[name + "_fds_closed"])))
    if len(growth) == 2:
        print("| broker + provider | | | %.1f | | | | |" % (sum(growth) / opened))
    if memory["error"]:
        print("\nTunnel opening stopped: %s" % memory["error"].strip())

    print("\nRequests through swarm-proxy with 1 client, a new tunnel each, while the "
          "idle tunnels above are open:\n")
    print("| idle tunnels open | req/s | p50 ms | p99 ms | failed |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in memory["rps"]:
        print("| %s | %s | %s | %s | %s |"
              % (row["label"].split(" ")[0],
                 "-" if row["rps"] is None else "%.0f" % row["rps"],
                 "-" if row["p50"] is None else "%.2f" % row["p50"],
                 "-" if row["p99"] is None else "%.2f" % row["p99"],
                 "-" if row["failed"] is None else "%d" % row["failed"]))
    for line in memory["logs"].splitlines():
        if "Too many open files" in line or "EMFILE" in line:
            print("\nfd limit hit: %s" % line.strip())
            break


# ---------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------

def parse_args():
    script_dir = os.path.dirname(os.path.abspath(__file__))
    default_binary = os.path.join(script_dir, "..", "build-bench", "app", "swarm-proxy")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.normpath(default_binary),
                        help="swarm-proxy binary (default: %(default)s)")
    parser.add_argument("--bulk-mib", type=int, default=1024,
                        help="size of each bulk download in MiB (default: 1024)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="bulk downloads per path; the median is reported "
                        "(default: 3)")
    parser.add_argument("--ab-seconds", type=int, default=30,
                        help="time limit of each ab run in seconds (default: 30)")
    parser.add_argument("--ab-requests-1", type=int, default=2000,
                        help="requests of each ab run with 1 client (default: 2000)")
    parser.add_argument("--ab-requests-32", type=int, default=10000,
                        help="requests of each ab run with 32 clients "
                        "(default: 10000)")
    parser.add_argument("--tunnels", type=int, default=1000,
                        help="idle CONNECT tunnels for the memory step "
                        "(default: 1000)")
    parser.add_argument("--budget", type=int, default=570,
                        help="seconds the whole run may take (default: 570)")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx",
                        help="nginx binary for the small-response target; an empty "
                        "value uses the Python target (default: %(default)s)")
    parser.add_argument("--steps", default="bulk,rps,memory",
                        help="comma-separated steps to run (default: %(default)s)")
    parser.add_argument("--swarm-nofile", type=int, default=None,
                        help="soft RLIMIT_NOFILE for the broker and provider "
                        "(default: the limit this script raises itself to)")
    parser.add_argument("--serve-target", metavar="CHUNK_FILE",
                        help=argparse.SUPPRESS)
    return parser.parse_args()


def run_bulk_step(args, budget, ports, watched):
    credentials = "%s:%s" % (SESSION_ID, TOKEN)
    bulk_bytes = args.bulk_mib * 1024 * 1024
    bulk_url = "http://127.0.0.1:%d/bulk/%d" % (ports["target"], bulk_bytes)
    return measure_bulk([
        ("direct", None, None, False, bulk_url),
        ("swarm-proxy, plain HTTP", ports["broker"], credentials, False, bulk_url),
        ("swarm-proxy, CONNECT", ports["broker"], credentials, True, bulk_url),
        ("tinyproxy, plain HTTP", ports["tinyproxy"], None, False, bulk_url),
        ("tinyproxy, CONNECT", ports["tinyproxy"], None, True, bulk_url),
    ], bulk_bytes, args.repeats, budget, watched)


def run_rps_step(args, budget, ports, watched, workdir):
    credentials = "%s:%s" % (SESSION_ID, TOKEN)
    small_url = "http://127.0.0.1:%d/small" % ports["small"]
    rows = []
    for label, port, creds in (("direct", None, None),
                               ("swarm-proxy", ports["broker"], credentials),
                               ("tinyproxy", ports["tinyproxy"], None)):
        for concurrency, requests in ((1, args.ab_requests_1),
                                      (32, args.ab_requests_32)):
            # Leave a minute for the memory step and for stopping everything.
            seconds = min(args.ab_seconds, int(budget.left()) - 60)
            if seconds < min(5, args.ab_seconds):
                log("skipping ab %s c=%d: time budget" % (label, concurrency))
                continue
            rows.append(run_ab(label, small_url, port, creds, concurrency, requests,
                               seconds, watched, workdir))
    return rows


def main():
    args = parse_args()
    if args.serve_target:
        serve_target(args.serve_target)
        return 0

    steps = set(args.steps.split(","))
    unknown = steps - {"bulk", "rps", "memory"}
    if unknown:
        print("invalid --steps value %s: use bulk, rps and memory, comma-separated"
              % ",".join(sorted(unknown)), file=sys.stderr)
        return 2

    budget = Budget(args.budget)
    nofile = raise_nofile_limit()
    log("RLIMIT_NOFILE of this script: %d / %d" % nofile)
    facts = machine_facts()
    versions = tool_versions(args.binary, args.nginx)
    bulk = ab_rows = memory = None

    with tempfile.TemporaryDirectory(prefix="swarm-bench-") as workdir:
        procs = Processes(workdir)
        try:
            target, http_port, hold_port = start_target(procs, workdir)
            ports = {"target": http_port, "small": http_port}
            small_pids = [target.pid]
            small_target = "Python thread-per-connection server (nginx not used)"
            if "bulk" in steps or "rps" in steps:
                broker, provider, ports["broker"] = start_swarm(
                    procs, args.binary, http_port, nofile=args.swarm_nofile)
                tinyproxy, ports["tinyproxy"] = start_tinyproxy(procs, workdir,
                                                                http_port)
                watched = {"target": [target.pid], "broker": [broker.pid],
                           "provider": [provider.pid], "tinyproxy": [tinyproxy.pid]}
                log("ports: %s" % ports)

                if "bulk" in steps:
                    bulk = run_bulk_step(args, budget, ports, watched)

                if "rps" in steps:
                    small = start_nginx(procs, workdir, args.nginx)
                    if small:
                        small_proc, ports["small"] = small
                        small_pids = [small_proc.pid] + child_pids(small_proc.pid)
                        small_target = "nginx, 1 worker process"
                    watched["target"] = small_pids
                    ab_rows = run_rps_step(args, budget, ports, watched, workdir)

                procs.stop(tinyproxy)
                procs.stop(provider)
                procs.stop(broker)

            if "memory" in steps:
                if budget.left() > 40:
                    memory = measure_memory(procs, args.binary, http_port, hold_port,
                                            args.tunnels, budget, args.swarm_nofile,
                                            "http://127.0.0.1:%d/small" % ports["small"],
                                            workdir)
                else:
                    log("skipping the memory step: time budget")
        finally:
            procs.stop_all()

    facts.append(("small-response target", small_target))
    print_report(facts, versions, bulk, ab_rows, memory, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
