"""Soak: rviewer under steady load for a long time, watched from outside. While a real
Runicorn viewer runs: connect/disconnect cycles, short tunnel clients by the hundred
thousand, and a paced API rate; the daemon's open fds, RSS, threads and SSH sessions
(from /metrics) sampled every 10 s. Reports the slope of each after the warm-up (the
first fifth) and whether the fds came back to the baseline once the load stopped.
Usage: soak.py --binary .build/release/rviewer [--minutes 10] [--cycles 10000]
       [--clients 100000] [--rate 1000] [--out Benchmarks/results/soak.md]"""
import argparse
import http.client
import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from peers import BENCH_USER, Daemon, Nginx, Processes, Sshd, ensure_bench_user, sh  # noqa: E402

# How often the daemon is sampled (the issue asks for 10 s).
SAMPLE_EVERY_S = 10
# Threads making tunnel clients (each a new TCP connection, one GET, close).
CLIENT_THREADS = 4
# Threads doing connect/disconnect cycles: one does ~15 a second here (a login is a few
# round trips and a key exchange), short of 10,000 in 10 minutes; two share the count.
CYCLE_THREADS = 2


class Load:
    def __init__(self, args, daemon, sshd, forward_port):
        self.args, self.daemon, self.sshd, self.forward_port = args, daemon, sshd, forward_port
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.cycles = self.clients = self.requests = self.claimed = 0
        self.errors = {"cycle": 0, "client": 0, "api": 0}

    def count(self, field, n=1):
        with self.lock:
            setattr(self, field, getattr(self, field) + n)

    def error(self, kind):
        with self.lock:
            self.errors[kind] += 1

    def claim_cycle(self):
        with self.lock:
            if self.claimed >= self.args.cycles:
                return False
            self.claimed += 1
            return True

    def cycle(self):
        while not self.stop.is_set() and self.claim_cycle():
            try:
                conn = self.daemon.connect(self.sshd, BENCH_USER)
                self.daemon.call("DELETE", f"/api/remote/connections/{conn}")
                self.count("cycles")
            except Exception:
                self.error("cycle")

    def tunnel_clients(self):
        share = self.args.clients // CLIENT_THREADS
        done = 0
        while not self.stop.is_set() and done < share:
            try:
                s = socket.create_connection(("127.0.0.1", self.forward_port), timeout=10)
                s.sendall(b"GET /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
                s.close()
                if not data.startswith(b"HTTP/1.1 200"):
                    self.error("client")
                done += 1
                self.count("clients")
            except Exception:
                self.error("client")

    def api(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=10)
        interval = 1.0 / self.args.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            try:
                conn.request("GET", "/api/remote/connections")
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    self.error("api")
                self.count("requests")
            except Exception:
                self.error("api")
                conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=10)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                next_at = time.monotonic()   # fell behind: do not burst to catch up


def sample(daemon):
    pid = daemon.proc.pid
    status = open(f"/proc/{pid}/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with urllib.request.urlopen(daemon.base + "/metrics", timeout=10) as r:
        metrics = r.read().decode()
    sessions = int(float(re.search(r"^rviewer_ssh_sessions (\S+)", metrics, re.M).group(1)))
    return {"t": time.monotonic(), "fds": fds, "rss": rss, "threads": threads, "sessions": sessions}


def slope_per_min(samples, key):
    if len(samples) < 3:
        return 0.0
    xs = [(s["t"] - samples[0]["t"]) / 60 for s in samples]
    ys = [s[key] for s in samples]
    return statistics.linear_regression(xs, ys).slope


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/rviewer")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--cycles", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=100000)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--out", default="Benchmarks/results/soak.md")
    args = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("soak: needs root (it creates the login user for the remote side)")
    procs = Processes()
    work = tempfile.mkdtemp(prefix="rviewer-soak-")
    os.chmod(work, 0o755)
    try:
        run(args, procs, work)
    finally:
        procs.stop_all()
        sh(f"pkill -KILL -u {BENCH_USER} || true")
        sh(["rm", "-rf", work])


def run(args, procs, work):
    env_name = ensure_bench_user()
    sshd = Sshd(work, procs)
    daemon = Daemon(args.binary, work, procs)
    nginx = Nginx(work, procs, "{}")
    conn = daemon.connect(sshd, BENCH_USER)
    viewer = daemon.call("POST", "/api/remote/viewer/start", {"connection_id": conn, "env_name": env_name, "auto_open": False})
    viewer_port = viewer["viewer"]["local_port"]
    _, forward_port = daemon.forward(conn, nginx.port)
    time.sleep(2)
    baseline = sample(daemon)
    load = Load(args, daemon, sshd, forward_port)
    threads = [threading.Thread(target=load.cycle) for _ in range(CYCLE_THREADS)] + [threading.Thread(target=load.api)]
    threads += [threading.Thread(target=load.tunnel_clients) for _ in range(CLIENT_THREADS)]
    for t in threads:
        t.start()
    samples = []
    end = time.monotonic() + args.minutes * 60
    while time.monotonic() < end:
        time.sleep(SAMPLE_EVERY_S)
        samples.append(sample(daemon))
        s = samples[-1]
        print(f"soak: {len(samples) * SAMPLE_EVERY_S:5d} s  fds {s['fds']}  rss {s['rss']:.1f} MB  threads {s['threads']}  "
              f"sessions {s['sessions']}  cycles {load.cycles}  clients {load.clients}  requests {load.requests}", flush=True)
    load.stop.set()
    for t in threads:
        t.join(timeout=60)
    time.sleep(5)
    final = sample(daemon)
    with urllib.request.urlopen(f"http://127.0.0.1:{viewer_port}/api/health", timeout=10) as r:
        viewer_ok = r.status == 200
    cpu = open("/proc/cpuinfo").read()
    model = re.search(r"model name\s*:\s*(.*)", cpu)
    warm = samples[len(samples) // 5:]
    minutes = args.minutes
    lines = [
        "# rviewer soak",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores ({model.group(1) if model else '?'}); "
        f"rviewer release build; {minutes:g} min of load while a real Runicorn viewer ran; samples every {SAMPLE_EVERY_S} s.",
        "",
        f"Load done: {load.cycles:,} connect/disconnect cycles (asked {args.cycles:,}), {load.clients:,} tunnel clients through one "
        f"forward to nginx (asked {args.clients:,}), {load.requests:,} API requests ({load.requests / (minutes * 60):,.0f}/s, paced at "
        f"{args.rate:,}/s). Errors: {load.errors}.",
        "",
        "| | baseline (before load) | last sample under load | final (5 s after) | slope after warm-up, per minute |",
        "|---|---|---|---|---|",
        f"| open fds | {baseline['fds']} | {samples[-1]['fds']} | {final['fds']} | {slope_per_min(warm, 'fds'):+.2f} |",
        f"| RSS MB | {baseline['rss']:.1f} | {samples[-1]['rss']:.1f} | {final['rss']:.1f} | {slope_per_min(warm, 'rss'):+.3f} |",
        f"| threads | {baseline['threads']} | {samples[-1]['threads']} | {final['threads']} | {slope_per_min(warm, 'threads'):+.2f} |",
        f"| SSH sessions | {baseline['sessions']} | {samples[-1]['sessions']} | {final['sessions']} | {slope_per_min(warm, 'sessions'):+.2f} |",
        "",
        f"fds back to the baseline at the end: **{'yes' if final['fds'] <= baseline['fds'] else 'no'}** "
        f"({final['fds']} vs {baseline['fds']}); the viewer still answered: **{'yes' if viewer_ok else 'no'}**.",
        "",
        "Samples (s: fds / RSS MB / threads / sessions):",
        "",
        ", ".join(f"{(s['t'] - samples[0]['t']) + SAMPLE_EVERY_S:.0f}: {s['fds']}/{s['rss']:.1f}/{s['threads']}/{s['sessions']}" for s in samples),
    ]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[:14]))
    print(f"report written to {args.out}")
    if final["fds"] > baseline["fds"] or not viewer_ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
