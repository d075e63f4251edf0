"""Load generators and readings: wrk, iperf3, a new client's first byte, RSS sampling."""
import json
import re
import socket
import statistics
import subprocess
import threading
import time

from peers import proc_cpu_seconds, proc_pss_kb, proc_status


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return None
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v


def wrk_errors(out):
    """Socket errors (connect, read, write, timeout) plus non-2xx/3xx responses in wrk's output."""
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    return errors


def wrk(url, conns, secs, threads=None, header=None):
    """req/s, p50 ms, p99 ms, errors (socket errors + non-2xx) of one wrk run."""
    threads = threads or (1 if conns < 2 else 2)
    extra = ["-H", header] if header else []
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{secs}s", "--latency"] + extra + [url],
                         capture_output=True, text=True, timeout=secs + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = wrk_errors(out)
    mb = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    scale = {"B": 1e-6, "KB": 1e-3 * 1.024, "MB": 1.048576, "GB": 1073.741824}
    mbps = float(mb.group(1)) * scale.get(mb.group(2), 1) if mb else None
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors, "mbps": mbps}


def wrk_cpu(url, conns, secs, pid=None):
    """One wrk run, plus the tunnel process's CPU (user + system) per request in µs and
    per MB moved in ms, when `pid` is given."""
    before = proc_cpu_seconds(pid) if pid else None
    out = wrk(url, conns, secs)
    if pid:
        cpu = proc_cpu_seconds(pid) - before
        out["cpu_us_per_req"] = cpu / max(out["rps"] * secs, 1) * 1e6
        out["cpu_ms_per_mb"] = cpu / max((out["mbps"] or 0) * secs, 1e-9) * 1e3
    return out


RETRYABLE_IPERF_ERRORS = ("busy", "control socket has closed unexpectedly", "unable to receive control message")


def iperf(port, secs, reverse, tunnel_pid=None):
    """MB/s through `port` (client->server, or server->client with reverse) and the
    tunnel process's CPU seconds per GB moved."""
    before = proc_cpu_seconds(tunnel_pid) if tunnel_pid else None
    args = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(secs), "-J", "-l", "128K"] + (["-R"] if reverse else [])
    retries = []
    for _ in range(20):
        out = json.loads(subprocess.run(args, capture_output=True, text=True, timeout=secs + 60).stdout)
        error = out.get("error", "")
        # The one-client iperf3 server still closing the previous test answers "busy", or
        # closes (or resets) the new control connection before the test starts: wait and
        # retry. Counted: the report lists them by path, so a tunnel fault cannot hide here.
        if not any(m in error for m in RETRYABLE_IPERF_ERRORS):
            break
        retries.append(error)
        time.sleep(0.25)
    if "error" in out:
        raise RuntimeError(f"iperf3 via port {port}: " + out["error"])
    recv = out["end"]["sum_received"]
    result = {"mbps": recv["bits_per_second"] / 8e6, "bytes": recv["bytes"], "retries": retries}
    if tunnel_pid:
        cpu = proc_cpu_seconds(tunnel_pid) - before
        result["cpu_per_gb"] = cpu / (recv["bytes"] / 1e9)
    return result


def first_byte_ms(port, path="/small", n=50):
    """Median ms from a new TCP connect to the first byte of the response."""
    times = []
    req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
    for _ in range(n):
        t0 = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(req)
        if not s.recv(1):
            raise RuntimeError("no response")
        times.append((time.perf_counter() - t0) * 1000)
        s.close()
    return statistics.median(times)


def burst_ms(port, clients, path="/api/health", bursts=5):
    """`clients` new connections made at once, each sending one GET: the median over
    `bursts` of the ms until the last of them has its first response byte (a browser
    opening its connections to a page)."""
    req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
    lasts = []
    for _ in range(bursts):
        times = [None] * clients
        t0 = time.perf_counter()

        def one(i):
            s = socket.create_connection(("127.0.0.1", port), 10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(req)
            if s.recv(1):
                times[i] = (time.perf_counter() - t0) * 1000
            s.close()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if None in times:
            raise RuntimeError(f"burst through port {port}: a client got no response")
        lasts.append(max(times))
        time.sleep(0.3)   # let the tunnels settle (spares refill) between bursts
    return statistics.median(lasts)


class Sampler:
    """Samples threads, RSS and PSS of processes every 50 ms while a load runs."""

    def __init__(self, pids):
        self.pids = pids
        self.max_rss_kb = 0
        self.max_pss_kb = 0
        self.max_threads = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                sts = [proc_status(p) for p in self.pids]
            except (FileNotFoundError, ProcessLookupError):
                break
            self.max_rss_kb = max(self.max_rss_kb, sum(s["rss_kb"] for s in sts))
            self.max_threads = max(self.max_threads, sum(s["threads"] for s in sts))
            try:
                self.max_pss_kb = max(self.max_pss_kb, sum(proc_pss_kb(p) for p in self.pids))
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.05)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def parallel_wrk(urls, conns, secs):
    """One wrk per URL at once; total req/s and errors."""
    procs = [subprocess.Popen(["wrk", "-t", "1", "-c", str(conns), "-d", f"{secs}s", u],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for u in urls]
    total, errors = 0.0, 0
    for p in procs:
        out = p.communicate(timeout=secs + 60)[0]
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        total += float(m.group(1)) if m else 0
        errors += wrk_errors(out)
    return total, errors


def fmt(s, digits=0):
    if s is None:
        return "-"
    med, lo, hi = s
    f = f"{{:,.{digits}f}}"
    return f"{f.format(med)} ({f.format(lo)}-{f.format(hi)})"


def ratio(a, b):
    return f"{a[0] / b[0]:.2f}x" if a and b and b[0] else "-"


def summary(values):
    """(median, min, max) of repeated runs."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)
