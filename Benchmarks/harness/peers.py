"""The parts a benchmark run starts on loopback: sshd, the rviewer daemon, `ssh -L`
tunnels, nginx, iperf3, the Runicorn viewer's venv and a delaying TCP proxy.
Everything lives in one temp dir and is stopped when the run ends."""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

BENCH_USER = "rviewer-bench"
# Persistent across runs: installing Runicorn from PyPI takes a minute.
BENCH_HOME = "/var/tmp/rviewer-bench-home"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def wait_listening(port, timeout=15.0):
    """Waits until something listens on 127.0.0.1:port, without connecting (a probe
    connection through a tunnel would reach, and upset, the target)."""
    needle = f"0100007F:{port:04X}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open("/proc/net/tcp") as f:
            if any(line.split()[1] == needle and line.split()[3] == "0A" for line in f.readlines()[1:]):
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, capture_output=True, text=True, **kw).stdout


class Processes:
    """Every process the run started, stopped at the end."""

    def __init__(self):
        self.procs = []

    def start(self, args, **kw):
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)


def proc_cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_pss_kb(pid):
    """Proportional set size: shared pages (the ssh binary, libcrypto) counted once
    across processes, not once per process as RSS counts them."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return {"threads": int(out["Threads"]), "rss_kb": int(out["VmRSS"].split()[0]), "hwm_kb": int(out["VmHWM"].split()[0])}


class Sshd:
    """OpenSSH sshd on a free loopback port, own host key and config; logs in the bench user."""

    def __init__(self, work, procs, name="sshd"):
        self.work = work
        p = (lambda f: os.path.join(work, f if name == "sshd" else f"{name}-{f}"))
        self.key = p("id_ed25519")
        host = p("host_ed25519")
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host])
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key])
        shutil.copy(self.key + ".pub", p("authorized_keys"))
        self.port = free_port()
        self.log = p("sshd.log")
        os.makedirs("/run/sshd", exist_ok=True)
        with open(p("sshd_config"), "w") as f:
            f.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {host}\n"
                    f"AuthorizedKeysFile {p('authorized_keys')}\nPidFile {p('sshd.pid')}\n"
                    "StrictModes no\nUsePAM yes\nLogLevel DEBUG1\nMaxStartups 500\nMaxSessions 100\n")
        self.proc = procs.start(["/usr/sbin/sshd", "-D", "-f", p("sshd_config"), "-E", self.log])
        wait_port(self.port)

    def negotiated(self, user):
        """The cipher/MAC/kex of the newest session the log shows for `user`'s login."""
        cipher = mac = kex = None
        with open(self.log, errors="replace") as f:
            for line in f:
                if "kex: algorithm:" in line:
                    kex = line.split("kex: algorithm:")[1].split()[0]
                if "kex: client->server cipher:" in line:
                    parts = line.split("cipher:")[1].split()
                    cipher, mac = parts[0], parts[2]
        return cipher, mac, kex

    def ssh_args(self, user, extra=()):
        return ["ssh", "-p", str(self.port), "-i", self.key, "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
                *extra, f"{user}@127.0.0.1"]


def ensure_bench_user():
    """The login user whose home holds a venv with the real Runicorn from PyPI."""
    try:
        pwd.getpwnam(BENCH_USER)
        sh(f"pkill -KILL -u {BENCH_USER} || true; usermod -d {BENCH_HOME} {BENCH_USER}")
    except KeyError:
        sh(["useradd", "-M", "-s", "/bin/sh", "-d", BENCH_HOME, BENCH_USER])
    venv = os.path.join(BENCH_HOME, "venvs", "runi")
    if not os.path.exists(os.path.join(venv, "bin", "runicorn")):
        os.makedirs(os.path.dirname(venv), exist_ok=True)
        sh(["/usr/bin/python3", "-m", "venv", venv])
        sh([os.path.join(venv, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check", "runicorn"], timeout=900)
    sh(["chown", "-R", BENCH_USER, BENCH_HOME])
    os.makedirs("/tmp/runicorn-viewer/sessions", exist_ok=True)
    os.chmod("/tmp/runicorn-viewer", 0o1777)
    os.chmod("/tmp/runicorn-viewer/sessions", 0o1777)
    return "runi"


class Daemon:
    """The release rviewer binary on a free port with its own state dir."""

    def __init__(self, binary, work, procs, env=None, name="rviewer", log_level="warning", config=None):
        out = os.path.join(work, f"{name}.out")
        self.proc = procs.start([binary, "serve", "--port", "0", "--state-dir", os.path.join(work, f"{name}-state"),
                                 "--log-level", log_level] + (["--config", config] if config else []), stdout=open(out, "w"), stderr=open(os.path.join(work, f"{name}.err"), "w"),
                                env={**os.environ, **(env or {})})
        deadline = time.time() + 15
        self.port = None
        while time.time() < deadline and self.port is None:
            text = open(out).read()
            for line in text.splitlines():
                if line.startswith("rviewer listening on"):
                    self.port = int(line.rsplit(":", 1)[1])
            time.sleep(0.02)
        if self.port is None:
            raise RuntimeError("rviewer did not start")
        self.base = f"http://127.0.0.1:{self.port}"

    def call(self, method, path, body=None, timeout=120):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:400]!r}")

    def connect(self, sshd, user, port=None, **extra):
        return self.call("POST", "/api/remote/connect", {
            "host": "127.0.0.1", "port": port or sshd.port, "username": user,
            "auth_method": "key", "private_key_path": sshd.key, **extra})["connection_id"]

    def forward(self, conn, remote_port, **extra):
        r = self.call("POST", "/api/remote/forwards", {"connection_id": conn, "remote_host": "127.0.0.1", "remote_port": remote_port, **extra})
        return r["forward_id"], r["local_port"]


def ssh_tunnel(sshd, user, procs, remote_ports, extra=()):
    """`ssh -N` with one -L per remote port; returns (process, [local ports])."""
    locals_ = [free_port() for _ in remote_ports]
    forwards = []
    for lp, rp in zip(locals_, remote_ports):
        forwards += ["-L", f"127.0.0.1:{lp}:127.0.0.1:{rp}"]
    p = procs.start(sshd.ssh_args(user, ["-N", *forwards, *extra]))
    for lp in locals_:
        wait_listening(lp)
    return p, locals_


class Nginx:
    """nginx, one worker, serving a 100 B and a 1 MiB static file and a fixed JSON body.
    whole=False: `sendfile on` alone, so each response leaves in two writes (headers,
    then the file), as uvicorn behind Runicorn writes its responses; whole=True adds
    `tcp_nopush on` (TCP_CORK): headers and body leave together, as a corking production
    server sends them."""

    def __init__(self, work, procs, json_body="{}", whole=False):
        root = os.path.join(work, "www")
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "small"), "wb") as f:
            f.write(b"x" * 100)
        with open(os.path.join(root, "big"), "wb") as f:
            f.write(os.urandom(1 << 20))
        self.port = free_port()
        tmp = os.path.join(work, "nginx")
        os.makedirs(tmp, exist_ok=True)
        body = json_body.replace("'", "\\'")
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 8192; }}
http {{ access_log off; client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp}; sendfile on; tcp_nopush {"on" if whole else "off"}; tcp_nodelay on;
  keepalive_requests 100000;
  server {{ listen 127.0.0.1:{self.port} backlog=4096; root {root};
    location /json {{ default_type application/json; return 200 '{body}'; }} }} }}
""")
        self.proc = procs.start(["/usr/sbin/nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL)
        wait_port(self.port)


class DelayProxy:
    """A TCP proxy adding `delay` seconds each way (chunks keep their order), so a
    request/response exchange costs one 2*delay round trip, as on a distant server."""

    def __init__(self, target_port, delay):
        self.delay = delay
        self.target = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pipe(c, u)
            self._pipe(u, c)

    def _pipe(self, src, dst):
        import queue
        q = queue.Queue()

        def reader():
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                q.put((time.monotonic() + self.delay, data))
                if not data:
                    return

        def writer():
            while True:
                due, data = q.get()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    if not data:
                        dst.shutdown(socket.SHUT_WR)
                        return
                    dst.sendall(data)
                except OSError:
                    return

        threading.Thread(target=reader, daemon=True).start()
        threading.Thread(target=writer, daemon=True).start()

    def close(self):
        self.sock.close()
