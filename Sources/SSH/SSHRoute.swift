import Glibc
import Reactor

/// How a session reaches its server: its own TCP connection, a `direct-tcpip` channel
/// of a jump host's session (`ssh -J`), or a ProxyCommand's stdin/stdout. The latter two
/// hand the session a socketpair end (`SSHStream`); it speaks SSH over that as over TCP.
public enum SSHRoute {
    case direct
    case jump(JumpHop)
    /// A ProxyCommand line with its tokens already expanded.
    case command(String)

    /// The hops as `host:port`, nearest first ("via" in the API).
    public var hops: [String] {
        switch self {
        case .direct, .command: return []
        case .jump(let hop): return hop.session.route.hops + [hop.label]
        }
    }

    /// Closes the jump hosts' sessions (the connection that owns them is going away).
    public func close() {
        if case .jump(let hop) = self { hop.close() }
    }
}

/// One jump host on a connection's route: its session, connected on first use and
/// connected again (with the hops before it) when a later use finds it gone, so a
/// reconnect or an extra session rebuilds the whole chain. Each hop's host key is
/// checked like any server's.
public final class JumpHop {
    /// `host:port`, for errors and `via`.
    public let label: String
    private(set) var session: SSHSession
    private var waiters: [(Result<SSHSession, SSHError>) -> Void] = []
    private var closed = false

    public init(session: SSHSession) {
        self.session = session
        label = "\(session.target.host):\(session.target.port)"
    }

    /// Calls `done` with the hop's ready session, connecting it first if need be.
    func ready(_ done: @escaping (Result<SSHSession, SSHError>) -> Void) {
        if closed { return done(.failure(SSHError.disconnected("the connection was closed").at(jumpHost: label))) }
        if session.isReady { return done(.success(session)) }
        waiters.append(done)
        guard waiters.count == 1 else { return }   // a connect is under way
        if !session.isFresh { session = session.makeSibling() }
        let current = session
        current.connect { [weak self] result in
            guard let self else { return }
            let waiting = self.waiters
            self.waiters = []
            let outcome = result.map { current }.mapError { $0.at(jumpHost: self.label) }
            for waiter in waiting { waiter(outcome) }
        }
    }

    func close() {
        closed = true
        session.disconnect()
        session.route.close()
    }
}

/// The byte stream a routed session speaks SSH over: one end of a socketpair whose other
/// end is pumped into a jump host's channel, or is a ProxyCommand's stdin and stdout.
final class SSHStream {
    let fd: Int32
    private let tunnel: TunnelClient?
    private var child: pid_t
    private let name: String

    private init(fd: Int32, tunnel: TunnelClient?, child: pid_t, name: String) {
        self.fd = fd
        self.tunnel = tunnel
        self.child = child
        self.name = name
    }

    /// A channel from the hop's session to `host:port`, pumped like a forward's client.
    static func through(_ hop: SSHSession, hopLabel: String, to host: String, port: Int) throws -> SSHStream {
        let (ours, theirs) = try socketPair()
        let tunnel = TunnelClient(fd: theirs, targetHost: host, targetPort: port, loop: hop.loop, session: hop,
                                  counters: TunnelCounters())
        hop.add(tunnel)
        return SSHStream(fd: ours, tunnel: tunnel, child: 0, name: "jump host \(hopLabel)")
    }

    /// `/bin/sh -c command` with the socketpair as its stdin and stdout; its stderr is the
    /// daemon's (its log). Own process group, default signals, so `close` ends it all.
    static func command(_ command: String) throws -> SSHStream {
        let (ours, theirs) = try socketPair()
        var actions = posix_spawn_file_actions_t()
        var attr = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attr)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attr)
        }
        posix_spawn_file_actions_adddup2(&actions, theirs, 0)
        posix_spawn_file_actions_adddup2(&actions, theirs, 1)
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attr, &none)          // the daemon blocks its shutdown signals
        posix_spawnattr_setsigdefault(&attr, &defaults)   // and ignores SIGCHLD
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
        defer { for a in argv { free(a) } }
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ)
        Glibc.close(theirs)
        guard rc == 0 else {
            Glibc.close(ours)
            throw SSHError.connectionFailed("ProxyCommand '\(command)': cannot start it: \(String(cString: strerror(rc)))")
        }
        return SSHStream(fd: ours, tunnel: nil, child: pid, name: "ProxyCommand '\(command)'")
    }

    private static func socketPair() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SSHError.connectionFailed("socketpair: \(String(cString: strerror(errno)))")
        }
        return (fds[0], fds[1])
    }

    /// A failure of the session over this stream, with what the stream knows of it: the
    /// hop's refusal to open the channel, or the command that ended.
    func explain(_ error: SSHError) -> SSHError {
        if let refused = tunnel?.openFailure { return .connectionFailed("\(name) cannot reach the next host: \(refused)") }
        if child > 0, case .connectionFailed(let m) = error { return .connectionFailed("\(name): \(m)") }
        if child > 0, case .timeout(let phase) = error { return .timeout(phase: "\(phase) (over \(name))") }
        return error
    }

    /// Ends the command's process group (the session closes the fd).
    func close() {
        guard child > 0 else { return }
        kill(-child, SIGTERM)
        child = 0
    }
}
