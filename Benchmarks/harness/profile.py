"""Where the daemon's CPU goes under the tunnel loads of bench.py, with perf.

For each load (bulk up and down through iperf3, 100 B responses at 1/64/256 connections
and 1 MiB responses at 8, both from the nginx that sends each response whole) and each
variant (all caches on, and each per-packet cache off in turn), runs the load once to
warm up, then again under `perf record -g` on the daemon, and writes a markdown table:
throughput, the daemon's CPU per request / per GB, and the share of its samples per
shared object (kernel, libcrypto, libc, libssh2, rviewer, Swift runtime) with the top
named symbols.
Usage (root, like bench.py): profile.py --binary .build/release/rviewer --out Benchmarks/results/profile.md
       [--secs 6] [--loads bulk-up,bulk-down,small-x1,small-x64,small-x256,big-x8]"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from measure import iperf, wrk_cpu  # noqa: E402
from peers import BENCH_USER, Daemon, Nginx, Processes, Sshd, ensure_bench_user, free_port, wait_listening  # noqa: E402

VARIANTS = [("all on", {}), ("HMAC cache off", {"RVIEWER_HMAC_CACHE": "0"}),
            ("random buffer off", {"RVIEWER_RAND_BUFFER": "0"}), ("CTR cache off", {"RVIEWER_CTR_CACHE": "0"})]
# Samples per second per CPU: enough for a stable split in a few seconds, light on the load.
PERF_HZ = 1000
# Shared objects named in the table; the rest is summed as "other".
DSOS = ["[kernel.kallsyms]", "libcrypto.so.3", "libc.so.6", "libssh2.so.1.0.1", "rviewer", "libswiftCore.so"]


def perf_split(data):
    """(share per shared object, top named symbols) of a perf.data file."""
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso", "-g", "none", "--stdio"],
                         capture_output=True, text=True).stdout
    split = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if m:
            split[m.group(2)] = float(m.group(1))
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "-g", "none", "--stdio"],
                         capture_output=True, text=True).stdout
    symbols = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(\S+)", line)
        if m and not m.group(3).startswith("0x"):
            symbols.append(f"{m.group(3)[:40]} {m.group(1)}%")
        if len(symbols) == 4:
            break
    return split, symbols


def run_load(load, port_iperf, port_nginx, pid, secs):
    if load.startswith("bulk"):
        x = iperf(port_iperf, secs, load == "bulk-down", pid)
        return f"{x['mbps']:,.0f} MB/s", f"{x['cpu_per_gb']:.2f} s/GB" if pid else ""
    conns = int(load.split("-x")[1])
    path = "/big" if load.startswith("big") else "/small"
    x = wrk_cpu(f"http://127.0.0.1:{port_nginx}{path}", conns, secs, pid)
    if not pid:
        return "", ""
    if path == "/big":
        return f"{x['mbps']:,.0f} MB/s", f"{x['cpu_ms_per_mb']:.2f} ms/MB"
    return f"{x['rps']:,.0f} req/s", f"{x['cpu_us_per_req']:.1f} µs/req"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/rviewer")
    ap.add_argument("--out", default="Benchmarks/results/profile.md")
    ap.add_argument("--secs", type=int, default=6)
    ap.add_argument("--loads", default="bulk-up,bulk-down,small-x1,small-x64,small-x256,big-x8")
    args = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("profile: needs root (it creates the login user for the remote side)")
    procs, work = Processes(), tempfile.mkdtemp(prefix="rviewer-profile-")
    os.chmod(work, 0o755)
    cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
    flags = re.search(r"flags\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1).split()
    lines = ["# Where the daemon's CPU goes (perf)", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores ({cpu.group(1) if cpu else '?'}; "
             f"{', '.join(f for f in ('aes', 'vaes', 'sha_ni', 'avx2', 'avx512f') if f in flags)}); "
             f"`perf record -g -F {PERF_HZ}` on the daemon during {args.secs} s of each load after a warm-up run; "
             "one run each on a shared machine: this says where the CPU goes; the A/B figures are the bench's interleaved runs (latest.md). "
             "Loads through one generic forward; HTTP from nginx sending each response whole (`tcp_nopush on`).", "",
             "| load | variant | rate | daemon CPU | " + " | ".join(d.strip("[]").split(".so")[0] for d in DSOS)
             + " | other | top named symbols |",
             "|" + "---|" * (len(DSOS) + 6)]
    try:
        ensure_bench_user()
        sshd = Sshd(work, procs)
        iperf_port = free_port()
        procs.start(["iperf3", "-s", "-B", "127.0.0.1", "-p", str(iperf_port)], stdout=subprocess.DEVNULL)
        wait_listening(iperf_port)
        ng_dir = os.path.join(work, "nginx-whole")
        os.makedirs(ng_dir)
        nginx = Nginx(ng_dir, procs, whole=True)
        daemons = []
        for name, env in VARIANTS:
            d = Daemon(args.binary, work, procs, env=env, name="rviewer-" + name.replace(" ", "-"))
            conn = d.connect(sshd, BENCH_USER)
            daemons.append((name, d, d.forward(conn, iperf_port)[1], d.forward(conn, nginx.port)[1]))
        for load in args.loads.split(","):
            for name, d, fi, fn in daemons:
                run_load(load, fi, fn, None, 2)
                data = os.path.join(work, "perf.data")
                perf = subprocess.Popen(["perf", "record", "-g", "-F", str(PERF_HZ), "-o", data, "-p", str(d.proc.pid)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.3)
                rate, cost = run_load(load, fi, fn, d.proc.pid, args.secs)
                perf.send_signal(2)
                perf.wait()
                split, symbols = perf_split(data)
                other = 100 - sum(split.get(x, 0) for x in DSOS)
                lines.append(f"| {load} | {name} | {rate} | {cost} | " + " | ".join(f"{split.get(x, 0):.0f}%" for x in DSOS)
                             + f" | {other:.0f}% | {'; '.join(symbols)} |")
                print(lines[-1], flush=True)
    finally:
        procs.stop_all()
        subprocess.run(["pkill", "-KILL", "-u", BENCH_USER], capture_output=True)
        subprocess.run(["rm", "-rf", work])
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"report written to {args.out}")


if __name__ == "__main__":
    main()
