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
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from measure import Sampler, first_byte_ms, fmt, iperf, parallel_wrk, ratio, summary, wrk, wrk_cpu  # noqa: E402
from remote_sections import RemoteSections  # noqa: E402
from peers import (BENCH_USER, Daemon, Nginx, Processes, Sshd, ensure_bench_user,  # noqa: E402
                   free_port, ssh_tunnel, wait_listening)

# Idle event streams held open in section 4b, and the wrk connections measured beside them.
IDLE_STREAMS = 1000
STREAM_WRK_CONNS = 64
# `ssh -L` this much slower against the split server than the whole one: the stall decides.
STALL_FACTOR = 1.5


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


class Bench(RemoteSections):
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
