"""rviewer against its peers, side by side in one run: bulk throughput, HTTP through
the tunnel, the real Runicorn viewer, scale, API rate, round trips and one jump host.
Writes a markdown report (ratios against `ssh -L` and direct loopback).
Usage: bench.py --binary .build/release/rviewer --out Benchmarks/results/latest.md
       [--runs 3] [--secs 3] [--only bulk,http,viewer,scale,api,streams,guard,rtt,jump]"""
import argparse
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from measure import Sampler, burst_ms, first_byte_ms, iperf, parallel_wrk, summary, wrk, wrk_cpu  # noqa: E402
from peers import (BENCH_USER, Daemon, DelayProxy, Nginx, Processes, Sshd, ensure_bench_user,  # noqa: E402
                   free_port, ssh_tunnel, wait_listening)

# Added each way by the delaying proxy: a 50 ms round trip, like a server abroad.
PROXY_DELAY_S = 0.025
# Idle event streams held open in section 4b, and the wrk connections measured beside them.
IDLE_STREAMS = 1000
STREAM_WRK_CONNS = 64
# `ssh -L` this much slower against the split server than the whole one: the stall decides.
STALL_FACTOR = 1.5
# Channels ahead on the generic forward measured in the bursts (a browser opens 6 at once).
BURST_CHANNELS_AHEAD = 6
# Pairs (loopback, proxied) of connect/detect/start measured in the round-trip section.
RTT_PAIRS = 9


def fmt(s, digits=0):
    if s is None:
        return "-"
    med, lo, hi = s
    f = f"{{:,.{digits}f}}"
    return f"{f.format(med)} ({f.format(lo)}-{f.format(hi)})"


def ratio(a, b):
    return f"{a[0] / b[0]:.2f}x" if a and b and b[0] else "-"


class Report:
    def __init__(self):
        self.lines = []

    def h(self, text):
        self.lines += ["", f"## {text}", ""]

    def p(self, text):
        self.lines.append(text)

    def table(self, head, rows):
        self.lines.append("| " + " | ".join(head) + " |")
        self.lines.append("|" + "---|" * len(head))
        for r in rows:
            self.lines.append("| " + " | ".join(str(c) for c in r) + " |")
        print("\n".join(self.lines[-len(rows) - 2:]), flush=True)


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="rviewer-bench-")
        os.chmod(self.work, 0o755)
        self.report = Report()
        self.env_name = ensure_bench_user()
        self.sshd = Sshd(self.work, self.procs)
        self.daemon = Daemon(args.binary, self.work, self.procs)
        self.conn = self.daemon.connect(self.sshd, BENCH_USER)
        self.cipher, self.mac, self.kex = self.sshd.negotiated(BENCH_USER)
        self.nginx = Nginx(self.work, self.procs, self.daemon_json("/api/remote/connections"))
        whole = os.path.join(self.work, "nginx-whole")
        os.makedirs(whole)
        self.nginx_whole = Nginx(whole, self.procs, whole=True)
        self.ab = {}
        self.iperf_port = free_port()
        self.procs.start(["iperf3", "-s", "-B", "127.0.0.1", "-p", str(self.iperf_port)], stdout=subprocess.DEVNULL)
        wait_listening(self.iperf_port)

    def daemon_json(self, path):
        import urllib.request
        with urllib.request.urlopen(self.daemon.base + path) as r:
            return r.read().decode()

    def forced_ssh(self):
        # An AEAD cipher (libssh2 1.11 negotiates aes256-gcm@openssh.com) carries its own
        # MAC: sshd logs it as "<implicit>", which is no name ssh's MACs option takes.
        mac = [] if self.mac == "<implicit>" else ["-o", f"MACs={self.mac}"]
        return ["-o", f"Ciphers={self.cipher}", *mac, "-o", f"KexAlgorithms={self.kex}"]

    def runs(self, fn):
        return [fn() for _ in range(self.args.runs)]

    def interleaved(self, fns):
        """Each measurement `runs` times, taken in turn (A B C A B C ...), so a ratio
        compares runs of the same minute; {name: [result of each run]}."""
        out = {name: [] for name in fns}
        for _ in range(self.args.runs):
            for name, fn in fns.items():
                out[name].append(fn())
        return out

    def ab_daemon(self, env, name):
        """A second daemon, its own connection to the same sshd: a cache turned off for A/B."""
        if name not in self.ab:
            d = Daemon(self.args.binary, self.work, self.procs, env=env, name=name)
            self.ab[name] = (d, d.connect(self.sshd, BENCH_USER))
        return self.ab[name]

    # -- 1. bulk ---------------------------------------------------------------
    def bulk(self):
        r = self.report
        r.h("1. Bulk throughput through one tunnel (iperf3, 128 KiB writes)")
        _, fwd = self.daemon.forward(self.conn, self.iperf_port)
        forced, (fport,) = ssh_tunnel(self.sshd, BENCH_USER, self.procs, [self.iperf_port], self.forced_ssh())
        default, (dport,) = ssh_tunnel(self.sshd, BENCH_USER, self.procs, [self.iperf_port])
        # The same daemon with the AES-CTR keystream cache (Sources/CFastCTR), the keyed-MAC
        # cache (Sources/CFastHMAC) or the random-byte buffer (Sources/CRandomBuffer) off:
        # A/B in the same run.
        noctr, noctr_conn = self.ab_daemon({"RVIEWER_CTR_CACHE": "0"}, "rviewer-noctr")
        nomac, nomac_conn = self.ab_daemon({"RVIEWER_HMAC_CACHE": "0"}, "rviewer-nohmac")
        norand, norand_conn = self.ab_daemon({"RVIEWER_RAND_BUFFER": "0"}, "rviewer-norand")
        paths = [("direct loopback", self.iperf_port, None),
                 (f"ssh -L forced to {self.cipher} + {self.mac}", fport, forced.pid),
                 ("ssh -L defaults", dport, default.pid),
                 ("rviewer forward", fwd, self.daemon.proc.pid),
                 ("rviewer forward, CTR keystream cache off", noctr.forward(noctr_conn, self.iperf_port)[1], noctr.proc.pid),
                 ("rviewer forward, HMAC cache off", nomac.forward(nomac_conn, self.iperf_port)[1], nomac.proc.pid),
                 ("rviewer forward, random buffer off", norand.forward(norand_conn, self.iperf_port)[1], norand.proc.pid)]
        results, retried = {name: {} for name, _, _ in paths}, []
        for rev in (False, True):
            runs = self.interleaved({name: (lambda port=port, pid=pid: iperf(port, self.args.secs, rev, pid)) for name, port, pid in paths})
            for name, xs in runs.items():
                retried += [f"{name}: {e}" for x in xs for e in x["retries"] if "busy" not in e]
                results[name][rev] = (summary([x["mbps"] for x in xs]), summary([x.get("cpu_per_gb") for x in xs]))
        rows = [[name, fmt(res[False][0]), fmt(res[True][0]), fmt(res[False][1], 2), fmt(res[True][1], 2)] for name, res in results.items()]
        r.table(["path", "client->server MB/s", "server->client MB/s", "tunnel CPU s/GB c->s", "tunnel CPU s/GB s->c"], rows)
        for p in (forced, default):
            self.procs.stop(p)
        rv, ssh, off = results["rviewer forward"], results[paths[1][0]], results["rviewer forward, HMAC cache off"]
        r.p("")
        r.p(f"rviewer / ssh -L (same cipher): client->server {ratio(rv[False][0], ssh[False][0])}, "
            f"server->client {ratio(rv[True][0], ssh[True][0])}; CPU per GB {ratio(rv[False][1], ssh[False][1])} / "
            f"{ratio(rv[True][1], ssh[True][1])} (lower is better). HMAC cache on / off: {ratio(rv[False][0], off[False][0])} / "
            f"{ratio(rv[True][0], off[True][0])}, CPU per GB {ratio(rv[False][1], off[False][1])} / {ratio(rv[True][1], off[True][1])}. "
            f"libssh2 negotiated {self.cipher}, {self.mac}, {self.kex}. Paths measured in turn, run by run.")
        if retried:
            r.p("")
            r.p(f"iperf3 runs repeated because the control connection closed at the start ({len(retried)}): " + "; ".join(retried))

    # -- 2. HTTP through the tunnel ----------------------------------------------
    def http(self):
        r = self.report
        r.h("2. HTTP through the tunnel (wrk against nginx on loopback), two servers")
        r.p("The same nginx files from two servers: *split* sends each response in two writes (headers, then the body: "
            "`sendfile on`, as uvicorn behind Runicorn writes), *whole* in one (`tcp_nopush on`, as a corking production "
            f"server). Cells: median (min-max) of {self.args.runs} runs taken in turn, p50/p99 latency, wrk errors "
            "(socket errors + non-2xx), the tunnel's CPU. \"stall\" marks a load where `ssh -L` is at least "
            f"{STALL_FACTOR}x slower against the split server than against the whole one: there the ~40 ms "
            "Nagle/delayed-ACK stall that split responses meet in `ssh -L`, not the tunnel's cost, decides the ratio.")
        nomac, nomac_conn = self.ab_daemon({"RVIEWER_HMAC_CACHE": "0"}, "rviewer-nohmac")
        norand, norand_conn = self.ab_daemon({"RVIEWER_RAND_BUFFER": "0"}, "rviewer-norand")
        loads = [("100 B", "/small", 1), ("100 B", "/small", 64), ("100 B", "/small", 256), ("1 MiB", "/big", 8)]
        names = ["direct", "ssh -L", "rviewer", "rviewer, HMAC cache off", "rviewer, random buffer off"]
        measured = {}
        for server, ng in [("split", self.nginx), ("whole", self.nginx_whole)]:
            _, fwd = self.daemon.forward(self.conn, ng.port)
            ssh, (sport,) = ssh_tunnel(self.sshd, BENCH_USER, self.procs, [ng.port], self.forced_ssh())
            paths = [("direct", ng.port, None), ("ssh -L", sport, ssh.pid), ("rviewer", fwd, self.daemon.proc.pid),
                     (names[3], nomac.forward(nomac_conn, ng.port)[1], nomac.proc.pid),
                     (names[4], norand.forward(norand_conn, ng.port)[1], norand.proc.pid)]
            for label, path, conns in loads:
                runs = self.interleaved({n: (lambda p=p, pid=pid: wrk_cpu(f"http://127.0.0.1:{p}{path}", conns, self.args.secs, pid))
                                         for n, p, pid in paths})
                key, cpu = ("mbps", "cpu_ms_per_mb") if path == "/big" else ("rps", "cpu_us_per_req")
                measured[server, conns, path] = {
                    n: (summary([x[key] for x in xs]), summary([x["p50"] for x in xs]), summary([x["p99"] for x in xs]),
                        sum(x["errors"] for x in xs), summary([x.get(cpu) for x in xs])) for n, xs in runs.items()}
            if server == "split":
                fb = {name: summary(self.runs(lambda: first_byte_ms(port))) for name, port, _ in paths[:3]}
            self.procs.stop(ssh)
        for server in ("split", "whole"):
            rows = []
            for label, path, conns in loads:
                res = measured[server, conns, path]
                whole_ssh, split_ssh = measured["whole", conns, path]["ssh -L"][0], measured["split", conns, path]["ssh -L"][0]
                stall = server == "split" and whole_ssh and split_ssh and whole_ssh[0] >= STALL_FACTOR * split_ssh[0]
                unit, cpu_unit = ("MB/s", "ms/MB") if path == "/big" else ("req/s", "µs/req")
                rows.append([f"{label} x{conns} ({unit})"]
                            + [f"{fmt(res[n][0])}; p50 {fmt(res[n][1], 2)} p99 {fmt(res[n][2], 2)} ms; errors {res[n][3]}"
                               + (f"; CPU {fmt(res[n][4], 1)} {cpu_unit}" if res[n][4] else "") for n in names]
                            + [ratio(res["rviewer"][0], res["ssh -L"][0]), ratio(res["rviewer"][4], res["ssh -L"][4]),
                               ratio(res["rviewer"][0], res["direct"][0]),
                               f"{ratio(res['rviewer'][0], res[names[3]][0])} / {ratio(res['rviewer'][4], res[names[3]][4])}",
                               f"{ratio(res['rviewer'][0], res[names[4]][0])} / {ratio(res['rviewer'][4], res[names[4]][4])}",
                               "stall" if stall else ""])
            r.p("")
            r.p(f"**{server}** responses:")
            r.p("")
            r.table(["load"] + names + ["rviewer/ssh", "CPU rviewer/ssh", "rviewer/direct", "HMAC cache on/off (rate / CPU)",
                                        "random buffer on/off (rate / CPU)", "ssh -L"], rows)
        r.p("")
        r.table(["new client: connect to first byte, ms (median of 50), split server", "direct", "ssh -L", "rviewer", "rviewer/ssh"],
                [["100 B GET"] + [fmt(fb[n], 3) for n in names[:3]] + [ratio(fb["rviewer"], fb["ssh -L"])]])
        r.p("")
        r.p("CPU: the tunnel process's user + system time per request (per MB for 1 MiB responses) during the run; "
            "lower is better, so a CPU ratio below 1 favours rviewer.")

    # -- 2b. the real Runicorn viewer ----------------------------------------------
    def viewer(self):
        r = self.report
        r.h("2b. The real Runicorn viewer's /api/health through the viewer's own tunnel")
        t0 = time.time()
        v = self.daemon.call("POST", "/api/remote/viewer/start", {"connection_id": self.conn, "env_name": self.env_name, "auto_open": False})
        start_s = time.time() - t0
        vport = v["viewer"]["local_port"]
        ps = subprocess.run(["pgrep", "-u", BENCH_USER, "-af", "runicorn viewer"], capture_output=True, text=True).stdout
        remote = int(re.search(r"--port (\d+)", ps).group(1))
        _, (sport,) = ssh_tunnel(self.sshd, BENCH_USER, self.procs, [remote], self.forced_ssh())
        paths = [("direct", remote), ("ssh -L", sport), ("rviewer", vport)]
        rows = []
        for conns in (1, 16):
            res = self.interleaved({n: (lambda p=p: wrk(f"http://127.0.0.1:{p}/api/health", conns, self.args.secs)) for n, p in paths})
            s = {n: summary([x["rps"] for x in v]) for n, v in res.items()}
            p50 = {n: summary([x["p50"] for x in v]) for n, v in res.items()}
            err = {n: sum(x["errors"] for x in v) for n, v in res.items()}
            rows.append([f"{conns} conn"] + [f"{fmt(s[n])}; p50 {fmt(p50[n], 2)} ms; errors {err[n]}" for n, _ in paths]
                        + [ratio(s["rviewer"], s["ssh -L"]), ratio(s["rviewer"], s["direct"])])
        r.table(["req/s", "direct", "ssh -L", "rviewer", "rviewer/ssh", "rviewer/direct"], rows)
        r.p("")
        r.p(f"Viewer start through rviewer on loopback (launch + wait until it answers), first start: {start_s:.2f} s.")
        self.daemon.call("POST", "/api/remote/viewer/stop", {"connection_id": self.conn})

    # -- 3. scale ------------------------------------------------------------------
    def scale(self):
        r = self.report
        r.h("3. Scale: 20 tunnels x 10 active clients, and 500 clients through one tunnel")
        secs = self.args.secs
        rows = []
        fwds = [self.daemon.forward(self.conn, self.nginx.port)[1] for _ in range(20)]
        with Sampler([self.daemon.proc.pid]) as s:
            rps, err = parallel_wrk([f"http://127.0.0.1:{p}/small" for p in fwds], 10, secs)
        rows.append(["20 tunnels x 10 clients", "rviewer (1 process, all tunnels)", f"{rps:,.0f}", err, s.max_threads, f"{s.max_rss_kb / 1024:.1f}", f"{s.max_pss_kb / 1024:.1f}"])
        many = [ssh_tunnel(self.sshd, BENCH_USER, self.procs, [self.nginx.port], self.forced_ssh()) for _ in range(20)]
        with Sampler([p.pid for p, _ in many]) as s:
            rps, err = parallel_wrk([f"http://127.0.0.1:{ports[0]}/small" for _, ports in many], 10, secs)
        rows.append(["20 tunnels x 10 clients", "ssh -L (20 processes)", f"{rps:,.0f}", err, s.max_threads, f"{s.max_rss_kb / 1024:.1f}", f"{s.max_pss_kb / 1024:.1f}"])
        for p, _ in many:
            self.procs.stop(p)
        one, ports = ssh_tunnel(self.sshd, BENCH_USER, self.procs, [self.nginx.port] * 20, self.forced_ssh())
        with Sampler([one.pid]) as s:
            rps, err = parallel_wrk([f"http://127.0.0.1:{p}/small" for p in ports], 10, secs)
        rows.append(["20 tunnels x 10 clients", "ssh with 20 -L (1 process)", f"{rps:,.0f}", err, s.max_threads, f"{s.max_rss_kb / 1024:.1f}", f"{s.max_pss_kb / 1024:.1f}"])
        self.procs.stop(one)
        fwd_id, fwd = self.daemon.forward(self.conn, self.nginx.port)
        with Sampler([self.daemon.proc.pid]) as s:
            w = wrk(f"http://127.0.0.1:{fwd}/small", 500, secs, threads=2)
        lanes = next(f["ssh_sessions"] for f in self.daemon.call("GET", "/api/remote/forwards")["forwards"] if f["forward_id"] == fwd_id)
        rows.append(["500 clients, 1 tunnel", f"rviewer ({lanes} SSH sessions)", f"{w['rps']:,.0f}", w["errors"], s.max_threads, f"{s.max_rss_kb / 1024:.1f}", f"{s.max_pss_kb / 1024:.1f}"])
        one, (port,) = ssh_tunnel(self.sshd, BENCH_USER, self.procs, [self.nginx.port], self.forced_ssh())
        with Sampler([one.pid]) as s:
            w = wrk(f"http://127.0.0.1:{port}/small", 500, secs, threads=2)
        rows.append(["500 clients, 1 tunnel", "ssh -L", f"{w['rps']:,.0f}", w["errors"], s.max_threads, f"{s.max_rss_kb / 1024:.1f}", f"{s.max_pss_kb / 1024:.1f}"])
        self.procs.stop(one)
        r.table(["load", "tunnel", "req/s (total)", "errors", "max threads", "max RSS MB", "max PSS MB"], rows)
        r.p("")
        r.p("PSS (proportional set size, /proc/PID/smaps_rollup) counts pages shared between processes once in all: "
            "the fair sum for the 20 `ssh` processes, whose RSS each count the shared ssh binary and libraries again.")
        r.p("rviewer's threads: 1 reactor thread + the resolver helper (+ the main thread parked in the loop); "
            "the figure is the process total from /proc.")

    # -- 4. API rate ---------------------------------------------------------------
    def api(self):
        r = self.report
        r.h("4. API rate (wrk), next to nginx returning the same JSON body")
        ping_body = self.daemon_json(f"/api/remote/ping?connection_id={self.conn}")
        conns_body = self.daemon_json("/api/remote/connections")
        rows = []
        for path, body in [("/api/remote/connections", conns_body), (f"/api/remote/ping?connection_id={self.conn}", ping_body)]:
            ng_dir = os.path.join(self.work, f"api{len(rows)}")
            os.makedirs(ng_dir, exist_ok=True)
            ng = Nginx(ng_dir, self.procs, body)
            for conns in (64, 256):
                runs = self.interleaved({"rviewer": lambda: wrk(self.daemon.base + path, conns, self.args.secs),
                                         "nginx": lambda: wrk(f"http://127.0.0.1:{ng.port}/json", conns, self.args.secs)})
                rv, nx = runs["rviewer"], runs["nginx"]
                a, b = summary([x["rps"] for x in rv]), summary([x["rps"] for x in nx])
                rows.append([path.split("?")[0], conns, fmt(a), fmt(b), ratio(a, b), sum(x["errors"] for x in rv), sum(x["errors"] for x in nx)])
            self.procs.stop(ng.proc)
        r.table(["endpoint", "conns", "rviewer req/s", "nginx req/s", "ratio", "rviewer errors", "nginx errors"], rows)

    # -- 4b. API rate with 1,000 idle event streams open ----------------------------
    def streams(self):
        r = self.report
        r.h(f"4b. API rate (wrk, {STREAM_WRK_CONNS} connections) with and without {IDLE_STREAMS:,} idle GET /api/events streams")
        path = "/api/remote/connections"
        without = self.runs(lambda: wrk(self.daemon.base + path, STREAM_WRK_CONNS, self.args.secs))
        port = int(self.daemon.base.rsplit(":", 1)[1])
        socks = []
        for _ in range(IDLE_STREAMS):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            socks.append(s)
        for s in socks:
            assert s.recv(4096).startswith(b"HTTP/1.1 200"), "an event stream did not open"
        with_streams = self.runs(lambda: wrk(self.daemon.base + path, STREAM_WRK_CONNS, self.args.secs))
        open_now = [l for l in self.daemon_json("/metrics").splitlines() if l.startswith("rviewer_event_streams ")]
        for s in socks:
            s.close()
        a, b = summary([x["rps"] for x in without]), summary([x["rps"] for x in with_streams])
        r.table(["endpoint", "streams open", "req/s", "ratio", "errors"],
                [[path, 0, fmt(a), "", sum(x["errors"] for x in without)],
                 [path, f"{IDLE_STREAMS:,} ({open_now[0].split()[1] if open_now else '?'} per /metrics)", fmt(b), ratio(b, a),
                  sum(x["errors"] for x in with_streams)]])

    # -- 4c. the same-user guard's cost per accept ------------------------------------
    def guard(self):
        r = self.report
        r.h("4c. Same-user guard: the API with the guard on (default) and off (allow_other_users), same run")
        cfg = os.path.join(self.work, "open.json")
        with open(cfg, "w") as f:
            f.write('{"allow_other_users": true}')
        open_daemon = Daemon(self.args.binary, self.work, self.procs, name="rviewer-open", config=cfg)
        rows = []
        for label, conns, header in [("keep-alive", 64, None), ("a new connection per request", 16, "Connection: close")]:
            runs = self.interleaved({
                "on": lambda: wrk(self.daemon.base + "/api/health", conns, self.args.secs, header=header),
                "off": lambda: wrk(open_daemon.base + "/api/health", conns, self.args.secs, header=header)})
            on, off = (summary([x["rps"] for x in runs[k]]) for k in ("on", "off"))
            cost = (1 / on[0] - 1 / off[0]) * 1e6 if on and off else float("nan")
            errors = sum(x["errors"] for k in ("on", "off") for x in runs[k])
            rows.append([f"GET /api/health, {label}, {conns} conns", fmt(on), fmt(off), ratio(on, off), f"{cost:+.1f}", errors])
        self.procs.stop(open_daemon.proc)
        r.table(["load", "guard on req/s", "guard off req/s", "on/off", "cost per request, µs", "errors (both)"], rows)
        r.p("")
        r.p("With a new connection per request every request pays one lookup of the peer's owner "
            "(NETLINK_SOCK_DIAG by the exact 4-tuple); with keep-alive it is paid once per connection.")

    # -- 5. round trips ------------------------------------------------------------
    def rtt(self):
        r = self.report
        r.h(f"5. Round trips through a proxy adding {PROXY_DELAY_S * 1000:.0f} ms each way")
        rtt = 2 * PROXY_DELAY_S
        proxy = DelayProxy(self.sshd.port, PROXY_DELAY_S)

        def timed(fn):
            t0 = time.time()
            out = fn()
            return time.time() - t0, out

        rows = []
        ssh_runs = self.runs(lambda: timed(lambda: subprocess.run(
            ["ssh", "-p", str(proxy.port), "-i", self.sshd.key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", f"{BENCH_USER}@127.0.0.1", "uname -sn; python3 -V"],
            capture_output=True, check=True))[0])
        s = summary(ssh_runs)
        rows.append(["ssh host 'uname -sn; python3 -V'", fmt(s, 3), f"{s[0] / rtt:.1f}"])
        conn_runs, det_runs, ping_runs, start_runs, own_runs, own_det_runs = [], [], [], [], [], []
        # The viewer's own start varies by ~100 ms (two round trips) from start to start:
        # at least 5 pairs, each own start next to its proxied one, steady the medians.
        for _ in range(max(self.args.runs, RTT_PAIRS)):
            # The viewer's and the detection script's own times: the same calls on loopback, no proxy.
            cid = self.daemon.connect(self.sshd, BENCH_USER)
            own_det_runs.append(timed(lambda: self.daemon.call("POST", "/api/remote/environments/detect",
                                                               {"connection_id": cid, "force_refresh": True}))[0])
            own_runs.append(timed(lambda: self.daemon.call("POST", "/api/remote/viewer/start",
                                                           {"connection_id": cid, "env_name": self.env_name, "auto_open": False}))[0])
            self.daemon.call("POST", "/api/remote/viewer/stop", {"connection_id": cid})
            self.daemon.call("DELETE", f"/api/remote/connections/{cid}")
            t, cid = timed(lambda: self.daemon.connect(self.sshd, BENCH_USER, proxy.port))
            conn_runs.append(t)
            det_runs.append(timed(lambda: self.daemon.call("POST", "/api/remote/environments/detect",
                                                           {"connection_id": cid, "force_refresh": True}))[0])
            ping_runs.append(timed(lambda: self.daemon.call("GET", f"/api/remote/ping?connection_id={cid}"))[0])
            start_runs.append(timed(lambda: self.daemon.call("POST", "/api/remote/viewer/start",
                                                             {"connection_id": cid, "env_name": self.env_name, "auto_open": False}))[0])
            self.daemon.call("POST", "/api/remote/viewer/stop", {"connection_id": cid})
            self.daemon.call("DELETE", f"/api/remote/connections/{cid}")
        for name, runs in [("rviewer connect (TCP + SSH + auth + server_info)", conn_runs), ("environment detection", det_runs),
                           ("ping", ping_runs), ("viewer start", start_runs)]:
            s = summary(runs)
            rows.append([name, fmt(s, 3), f"{s[0] / rtt:.1f}"])
        r.table(["operation", "wall s", "round trips (wall / RTT)"], rows)
        r.p("")
        own = summary(own_runs)
        # Each proxied start against the loopback start just before it (same machine
        # state): the median of those differences, not the difference of two medians.
        extra = statistics.median(p - o for p, o in zip(start_runs, own_runs)) / rtt
        r.p(f"Viewer start without the proxy (the viewer's own start time): {fmt(own, 3)} s, "
            f"so the proxy added {extra:.1f} round trips to the start (median of {len(own_runs)} paired differences).")
        own_det = summary(own_det_runs)
        r.p("")
        r.p(f"Detection without the proxy (the script's own run time on the server): {fmt(own_det, 3)} s, "
            f"so the proxy added {statistics.median(p - o for p, o in zip(det_runs, own_det_runs)) / rtt:.1f} round trips to the detection.")
        self.bursts(proxy, rtt)
        proxy.close()

    def bursts(self, proxy, rtt):
        """New clients arriving together (a browser opening a page) through the proxy:
        the viewer's own tunnel (channels opened ahead), a generic forward to the same
        viewer (opens on demand) and `ssh -L`, all over the same 50 ms round trip."""
        r = self.report
        cid = self.daemon.connect(self.sshd, BENCH_USER, proxy.port)
        v = self.daemon.call("POST", "/api/remote/viewer/start", {"connection_id": cid, "env_name": self.env_name, "auto_open": False})
        ps = subprocess.run(["pgrep", "-u", BENCH_USER, "-af", "runicorn viewer"], capture_output=True, text=True).stdout
        remote = int(re.search(r"--port (\d+)", ps).group(1))
        _, fwd = self.daemon.forward(cid, remote)
        _, ahead = self.daemon.forward(cid, remote, channels_ahead=BURST_CHANNELS_AHEAD)
        ssh = self.procs.start(["ssh", "-p", str(proxy.port), "-i", self.sshd.key, "-o", "StrictHostKeyChecking=no",
                                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-N",
                                "-L", f"127.0.0.1:{(sport := free_port())}:127.0.0.1:{remote}", f"{BENCH_USER}@127.0.0.1"])
        wait_listening(sport)
        paths = [("ssh -L", sport), ("rviewer viewer tunnel", v["viewer"]["local_port"]), ("rviewer generic forward", fwd),
                 (f"rviewer generic forward, channels_ahead {BURST_CHANNELS_AHEAD}", ahead)]
        rows = []
        for n in (1, 6, 12):
            ms = {name: burst_ms(port, n) for name, port in paths}
            rows.append([f"{n} new client(s) at once"] + [f"{ms[name]:.0f} ({ms[name] / 1000 / rtt:.1f} RTT)" for name, _ in paths]
                        + [f"{ms['rviewer viewer tunnel'] / ms['ssh -L']:.2f}x", f"{ms[paths[3][0]] / ms['ssh -L']:.2f}x"])
        r.p("")
        r.table(["last first byte, ms (median of 5 bursts), 50 ms RTT"] + [n for n, _ in paths]
                + ["viewer tunnel / ssh", "forward with channels ahead / ssh"], rows)
        self.procs.stop(ssh)
        self.daemon.call("POST", "/api/remote/viewer/stop", {"connection_id": cid})
        self.daemon.call("DELETE", f"/api/remote/connections/{cid}")

    # -- 6. through one jump host ----------------------------------------------------
    def jump(self):
        """rviewer with proxy_jump against `ssh -J ... -L`, both through the same bastion
        sshd and forced to the cipher, MAC and kex rviewer negotiated."""
        r = self.report
        r.h("6. Through one jump host (a second sshd as bastion), against ssh -J -L")
        bastion = Sshd(self.work, self.procs, name="bastion")
        agent_sock = os.path.join(self.work, "agent.sock")
        agent = self.procs.start(["ssh-agent", "-D", "-a", agent_sock], stdout=subprocess.DEVNULL)
        deadline = time.time() + 5
        while not os.path.exists(agent_sock) and time.time() < deadline:
            time.sleep(0.02)
        subprocess.run(["ssh-add", "-q", bastion.key], env={**os.environ, "SSH_AUTH_SOCK": agent_sock}, check=True)
        daemon = Daemon(self.args.binary, self.work, self.procs, env={"SSH_AUTH_SOCK": agent_sock}, name="rviewer-jump")
        conn = daemon.connect(self.sshd, BENCH_USER, proxy_jump=f"{BENCH_USER}@127.0.0.1:{bastion.port}")
        cfg = os.path.join(self.work, "ssh-jump.conf")
        mac = "" if self.mac == "<implicit>" else f"  MACs {self.mac}\n"
        with open(cfg, "w") as f:
            f.write(f"Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  BatchMode yes\n"
                    f"  IdentityFile {self.sshd.key}\n  IdentityFile {bastion.key}\n  Ciphers {self.cipher}\n{mac}"
                    f"  KexAlgorithms {self.kex}\n")
        rows = []

        def ssh_j(remote_port):
            lp = free_port()
            p = self.procs.start(["ssh", "-F", cfg, "-N", "-J", f"{BENCH_USER}@127.0.0.1:{bastion.port}", "-p", str(self.sshd.port),
                                  "-L", f"127.0.0.1:{lp}:127.0.0.1:{remote_port}", f"{BENCH_USER}@127.0.0.1"],
                                 env={**os.environ, "SSH_AUTH_SOCK": ""})
            wait_listening(lp)
            return p, lp

        # Bulk, both ways.
        _, rv_bulk = daemon.forward(conn, self.iperf_port)
        sj, sj_bulk = ssh_j(self.iperf_port)
        bulk = {}
        for name, port in [("ssh -J -L", sj_bulk), ("rviewer", rv_bulk)]:
            bulk[name] = [summary([x["mbps"] for x in self.runs(lambda: iperf(port, self.args.secs, rev))]) for rev in (False, True)]
        self.procs.stop(sj)
        rows.append(["bulk MB/s, client->server / server->client (iperf3)",
                     f"{fmt(bulk['ssh -J -L'][0])} / {fmt(bulk['ssh -J -L'][1])}", f"{fmt(bulk['rviewer'][0])} / {fmt(bulk['rviewer'][1])}",
                     f"{ratio(bulk['rviewer'][0], bulk['ssh -J -L'][0])} / {ratio(bulk['rviewer'][1], bulk['ssh -J -L'][1])}"])
        # 100 B HTTP at 1 and 64 connections, and a new client's first byte.
        _, rv_http = daemon.forward(conn, self.nginx.port)
        sj, sj_http = ssh_j(self.nginx.port)
        for conns in (1, 64):
            runs = self.interleaved({n: (lambda p=p: wrk(f"http://127.0.0.1:{p}/small", conns, self.args.secs))
                                     for n, p in [("ssh -J -L", sj_http), ("rviewer", rv_http)]})
            res = {n: summary([x["rps"] for x in xs]) for n, xs in runs.items()}
            err = {n: sum(x["errors"] for x in xs) for n, xs in runs.items()}
            rows.append([f"100 B HTTP x{conns}, req/s (errors)", f"{fmt(res['ssh -J -L'])} ({err['ssh -J -L']})",
                         f"{fmt(res['rviewer'])} ({err['rviewer']})", ratio(res["rviewer"], res["ssh -J -L"])])
        fb = {n: summary(self.runs(lambda: first_byte_ms(p))) for n, p in [("ssh -J -L", sj_http), ("rviewer", rv_http)]}
        rows.append(["new client: connect to first byte, ms (lower is better)", fmt(fb["ssh -J -L"], 3), fmt(fb["rviewer"], 3),
                     ratio(fb["rviewer"], fb["ssh -J -L"])])
        self.procs.stop(sj)
        r.table(["load", "ssh -J -L", "rviewer (proxy_jump)", "rviewer / ssh -J -L"], rows)
        r.p("")
        r.p(f"Both legs forced to {self.cipher}, {self.mac}, {self.kex} for ssh; rviewer negotiates the same on both. "
            "The bastion and the target are OpenSSH on loopback.")
        for p in (daemon.proc, agent, bastion.proc):
            self.procs.stop(p)

    def run(self):
        r = self.report
        r.p("# rviewer benchmarks against its peers")
        r.p("")
        cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
        ver = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
        r.p(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores ({cpu.group(1) if cpu else '?'}), "
            f"{platform.platform()}; {ver}; rviewer release build, libssh2 {self.daemon_json('/api/health').split('libssh2')[1][3:9].strip(chr(34))}. "
            f"Each point: median (min-max) of {self.args.runs} runs of {self.args.secs} s. All on loopback, same run, same machine.")
        only = self.args.only.split(",") if self.args.only else ["bulk", "http", "viewer", "scale", "api", "streams", "guard", "rtt", "jump"]
        for part in only:
            getattr(self, part)()
        os.makedirs(os.path.dirname(self.args.out), exist_ok=True)
        with open(self.args.out, "w") as f:
            f.write("\n".join(r.lines) + "\n")
        print(f"report written to {self.args.out}")

    def close(self):
        self.procs.stop_all()
        subprocess.run(["pkill", "-KILL", "-u", BENCH_USER], capture_output=True)
        if self.work:
            subprocess.run(["rm", "-rf", self.work])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/rviewer")
    ap.add_argument("--out", default="Benchmarks/results/latest.md")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=3)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("bench: needs root (it creates the login user for the remote side)")
    # A TERM (timeout, Ctrl-C from make) still stops every process the run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    b = Bench.__new__(Bench)
    b.procs, b.work = Processes(), None
    try:
        b.__init__(args)
        b.run()
    finally:
        b.close()


if __name__ == "__main__":
    main()
