import Reactor
import SSH

/// Why a viewer request failed, typed so the API can answer with the spec's codes.
public enum ViewerError: Error, Equatable {
    case ssh(SSHError)
    case environmentNotFound(String)
    /// Runicorn is not in the environment; `installCommand` installs it there.
    case notInstalled(installCommand: String)
    case alreadyRunning
    case startFailed(String)
}

/// One Runicorn viewer started by rviewer on a connection's server.
public final class Viewer {
    public let id: String
    public let envName: String
    public internal(set) var machine = ViewerStateMachine() { didSet { changed?() } }
    public internal(set) var pid: Int?
    public internal(set) var remotePort: Int?
    /// The viewer's own state directory on the server (~/.cache/rviewer/<id>).
    public internal(set) var directory: String?
    public internal(set) var startedAt: String? { didSet { changed?() } }
    var startedEpoch: Int?
    var startedMonotonic: UInt64 = 0
    /// The local port to listen on when there is no tunnel yet to reopen (a viewer taken
    /// back from an earlier run of the daemon: its former port if free, else any).
    var preferredLocalPort: Int?
    var tunnel: LocalForward? { didSet { changed?() } }
    /// Told after its state, start time or tunnel changed (set by its connection).
    var changed: (() -> Void)?
    var timer: Reactor.Timer?
    var monitor: Reactor.Timer?
    /// The start request, until it is answered (once).
    var startWaiter: ((Result<Viewer, ViewerError>) -> Void)?
    /// Stop requests waiting for the stop in flight (or for the launch it waits on).
    var stopWaiters: [(Result<Void, SSHError>) -> Void] = []
    /// Whether any of those stops asked for the remote directory to be removed.
    var stopCleanup = false

    init(id: String, envName: String) {
        self.id = id
        self.envName = envName
    }

    public var localPort: Int? { tunnel?.localPort }
    /// The viewer's tunnel (clients, bytes, channels, sessions), while it has one.
    public var forward: LocalForward? { tunnel }
    public var url: String? { localPort.map { "http://localhost:\($0)" } }

    /// The spec's status: starting, running, stopped or failed.
    public var status: String {
        switch machine.state {
        case .launching, .waiting: return "starting"
        case .running: return "running"
        case .stopAwaitingLaunch, .stopping, .stopped: return "stopped"
        case .failed, .unreachable: return "failed"
        }
    }

    /// The health verdict of the viewer's status: from the checks made just now, or
    /// (nil) from what the daemon knows without asking (its monitor checks a running
    /// viewer's process every 5 s; a dead one turns `failed`).
    public func health(checks: (process: Bool, tunnel: Bool)?) -> String {
        switch status {
        case "running":
            if let c = checks { return c.process && c.tunnel ? "healthy" : "unhealthy" }
            return tunnel?.isOpen == true ? "healthy" : "unhealthy"
        case "failed": return "unhealthy"
        default: return "unknown"
        }
    }

    /// Why the viewer failed or is out of reach.
    public var failureReason: String? {
        switch machine.state {
        case .failed(let reason), .unreachable(let reason): return reason
        case .launching, .waiting, .running, .stopAwaitingLaunch, .stopping, .stopped: return nil
        }
    }

    /// Answers the start request; later calls do nothing.
    func answerStart(_ result: Result<Viewer, ViewerError>) {
        guard let waiter = startWaiter else { return }
        startWaiter = nil
        waiter(result)
    }

    /// Answers every stop request waiting, and forgets their cleanup wish.
    func answerStops(_ result: Result<Void, SSHError>) {
        let waiters = stopWaiters
        stopWaiters = []
        stopCleanup = false
        for waiter in waiters { waiter(result) }
    }

    public func uptimeSeconds(now: UInt64) -> Int {
        guard machine.state == .running, startedMonotonic > 0 else { return 0 }
        return Int((now &- startedMonotonic) / 1_000_000_000)
    }
}

/// The remote commands of the viewer's lifecycle, each one round trip; every value
/// in them goes through `ShellQuote`.
enum ViewerScripts {
    /// Starts the viewer detached (own session and process group via setsid, output to
    /// its own 0700 directory), after picking a free loopback port with its python.
    static func launch(id: String, python: String, storage: String?) -> String {
        let py = ShellQuote.quote(python)
        let storageArgs = storage.map { " --storage " + ShellQuote.quote($0) } ?? ""
        // Runicorn's remote mode logs under a fixed /tmp/runicorn-viewer/sessions: create it
        // sticky and world-writable (like /tmp) if absent, so the first user's umask does
        // not lock every other user of the server out.
        return """
        for r in /tmp/runicorn-viewer /tmp/runicorn-viewer/sessions; do [ -d "$r" ] || mkdir -m 1777 "$r" 2>/dev/null; done
        umask 077
        d="$HOME/.cache/rviewer/"\(ShellQuote.quote(id))
        mkdir -p "$d" && chmod 700 "$d" || exit 3
        port=$(\(py) -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || exit 4
        cd "$HOME" || exit 5
        setsid \(py) -m runicorn viewer --host 127.0.0.1 --port "$port"\(storageArgs) --remote-mode > "$d/viewer.log" 2>&1 < /dev/null &
        pid=$!
        echo "$pid" > "$d/pid"
        \(py) -c \(ShellQuote.quote(waitUntilListening)) "$pid" "$port" \(waitSeconds) 2>/dev/null
        printf 'PID=%s\\nPORT=%s\\nDIR=%s\\n' "$pid" "$port" "$d"
        """
    }

    /// Seconds the launch waits on the server for the viewer to listen. Waiting there,
    /// next to it, the answer comes back one round trip after the viewer is up and the
    /// first probe through the tunnel finds it; probing from here alone found it a
    /// probe interval plus a failed open later (measured: 3.8 round trips added by a
    /// 50 ms link). The probe loop still decides; it takes over if this runs out.
    static let waitSeconds = 20

    /// Returns once the port accepts a connection, the process is gone (a zombie counts:
    /// the launching shell has not reaped it yet), or the time is up.
    static let waitUntilListening = """
    import os, socket, sys, time
    pid, port, end = int(sys.argv[1]), int(sys.argv[2]), time.time() + int(sys.argv[3])
    def alive():
        try:
            os.kill(pid, 0)
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return True
        except OSError:
            return False
    while time.time() < end and alive():
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            time.sleep(0.01)
    """

    /// Prints ALIVE when `pid` is still the viewer rviewer launched on `port` in
    /// `directory` (its command line says so: a pid the system gave to another process
    /// since is not it), GONE otherwise. Sends no signal.
    static func identify(pid: Int, port: Int, directory: String) -> String {
        let marker = ShellQuote.quote(" -m runicorn viewer --host 127.0.0.1 --port \(port) ")
        return "if [ -d \(ShellQuote.quote(directory)) ] && ps -ww -o args= -p \(pid) 2>/dev/null | grep -qF -- \(marker); then echo ALIVE; else echo GONE; fi"
    }

    /// Prints ALIVE or DEAD, then the log's last lines.
    static func check(pid: Int, directory: String, tail: Int) -> String {
        "if kill -0 \(pid) 2>/dev/null; then echo ALIVE; else echo DEAD; fi; tail -n \(tail) \(ShellQuote.quote(directory + "/viewer.log")) 2>/dev/null"
    }

    /// TERM to the process group rviewer started, KILL after the grace period, then
    /// optionally remove the viewer's directory. Never touches anything else.
    static func stop(pid: Int, directory: String, graceTenths: Int, cleanup: Bool) -> String {
        let dir = ShellQuote.quote(directory)
        return """
        kill -TERM -\(pid) 2>/dev/null || kill -TERM \(pid) 2>/dev/null
        i=0; while kill -0 \(pid) 2>/dev/null && [ $i -lt \(graceTenths) ]; do sleep 0.1; i=$((i+1)); done
        kill -KILL -\(pid) 2>/dev/null; kill -KILL \(pid) 2>/dev/null
        \(cleanup ? "rm -rf \(dir)" : ":")
        echo STOPPED
        """
    }

    static func logs(directory: String, lines: Int) -> String {
        "tail -n \(lines) \(ShellQuote.quote(directory + "/viewer.log")) 2>/dev/null"
    }
}
