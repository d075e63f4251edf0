"""Sections 5 and 6 of bench.py, over a distance: round trips through a delaying proxy,
bursts of new clients, and one jump host against `ssh -J -L`."""
import os
import re
import statistics
import subprocess
import time

from measure import burst_ms, first_byte_ms, fmt, iperf, ratio, summary, wrk
from peers import BENCH_USER, Daemon, DelayProxy, Sshd, free_port, wait_listening

# Added each way by the delaying proxy: a 50 ms round trip, like a server abroad.
PROXY_DELAY_S = 0.025
# Channels ahead on the generic forward measured in the bursts (a browser opens 6 at once).
BURST_CHANNELS_AHEAD = 6
# Pairs (loopback, proxied) of connect/detect/start measured in the round-trip section.
RTT_PAIRS = 9


class RemoteSections:
    """Mixed into Bench: uses its report, daemon, sshd, procs, args and interleaved()."""

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

