import Glibc
import Reactor
import SSH

/// The connections the daemon holds, by id; the domain behind the connection endpoints.
public final class ConnectionRegistry {
    /// Bound on the server-info command after authentication; a shell that does not
    /// answer `uname` in this long is broken (the same bound as the connect timeout).
    static let serverInfoTimeoutMs = 30_000
    /// Bound on one ping round trip.
    public static let pingTimeoutMs = 10_000

    unowned let loop: EventLoop
    private let resolver: Resolver
    public let knownHosts: KnownHosts
    public let environment: SSHEnvironment
    private var connections: [String: Connection] = [:]
    private var order: [String] = []
    private var issuedIDs: Set<String> = []
    var pendingSessions: [ObjectIdentifier: SSHSession] = [:]
    /// Seconds a second-factor challenge waits (config `second_factor_timeout_seconds`,
    /// at most SecondFactorLogin.challengeSeconds).
    public var challengeSeconds = SecondFactorLogin.challengeSeconds
    /// Logins waiting, half done, for the user's answers, by challenge id.
    var challenges: [String: PendingChallenge] = [:]
    /// How forwards and viewer tunnels spread a burst of new clients over extra sessions.
    public var lanePolicy = LanePolicy()
    /// Who may use the forwards' and viewers' local ports (config `allow_other_users`).
    public var sameUserGuard = SameUserGuard(allowOtherUsers: false)
    /// Told when a connected session dies (for the daemon's log).
    public var onLost: ((Connection, SSHError) -> Void)?
    /// Told when a lost connection is back, with the forwards that could not listen again.
    public var onReconnected: ((Connection, [String]) -> Void)?
    /// Told when a lost connection stops trying to come back, and why.
    public var onReconnectGaveUp: ((Connection, String) -> Void)?
    /// Told when a running viewer's process dies.
    public var onViewerFailed: ((Connection, Viewer) -> Void)?
    /// The viewers started and not yet stopped, kept across runs (ViewerRecovery.swift).
    public var ledger: ViewerLedgerFile?
    /// Told what became of viewers an earlier run left (taken back, or ended meanwhile).
    public var onViewerRecovery: ((String) -> Void)?
    /// Recorded viewers whose server is being asked about them right now.
    var recovering: Set<String> = []
    /// Told, once per event batch, after anything the API shows changed: a connection
    /// came or went, its status, viewer or forwards changed (the live events' source).
    public var onChange: (() -> Void)?
    private var changeQueued = false
    /// Counted since the daemon started (for the metrics).
    public internal(set) var reconnectAttempts: UInt64 = 0
    public internal(set) var viewerStarts: UInt64 = 0
    public internal(set) var viewerStartFailures: UInt64 = 0

    public init(loop: EventLoop, resolver: Resolver, knownHosts: KnownHosts, environment: SSHEnvironment) {
        self.loop = loop
        self.resolver = resolver
        self.knownHosts = knownHosts
        self.environment = environment
    }

    public var all: [Connection] { order.compactMap { connections[$0] } }

    /// The loop's monotonic clock (for uptimes).
    public var now: UInt64 { loop.now }

    public func connection(_ id: String) -> Connection? { connections[id] }

    /// Opens a session, authenticates, gathers server_info; `done` runs on the loop.
    public func connect(_ request: ConnectRequest, _ done: @escaping (Result<Connection, SSHError>) -> Void) {
        let target: SSHSession.Target
        let plan: RoutePlan
        do {
            target = try environment.target(for: request)
            plan = try environment.routePlan(for: request, target: target)
        } catch let e as SSHError {
            return done(.failure(e))
        } catch {
            return done(.failure(.invalidParameters("\(error)")))
        }
        let session = SSHSession(loop: loop, resolver: resolver, knownHosts: knownHosts, target: target, route: route(plan))
        pendingSessions[ObjectIdentifier(session)] = session
        session.connect { [weak self] result in
            self?.loggedIn(session, request: request, target: target, result, done)
        }
    }

    /// How a login ended (or paused at a challenge): gathers server_info and registers the
    /// connection, hands out the challenge, or reports the failure.
    func loggedIn(_ session: SSHSession, request: ConnectRequest, target: SSHSession.Target, _ result: Result<Void, SSHError>,
                  _ done: @escaping (Result<Connection, SSHError>) -> Void) {
        let key = ObjectIdentifier(session)
        switch result {
        case .failure(.secondFactorRequired(let challenge)):
            done(.failure(.secondFactorRequired(hold(challenge, session: session, request: request, target: target))))
        case .failure(let error):
            self.pendingSessions[key] = nil
            session.route.close()
            done(.failure(error))
        case .success:
            session.exec(ServerInfo.command, timeoutMs: Self.serverInfoTimeoutMs, outputCap: 64 * 1024) { info in
                self.pendingSessions[key] = nil
                let serverInfo: ServerInfo
                switch info {
                case .success(let r): serverInfo = ServerInfo.parse(r.stdoutText)
                case .failure(let error) where !session.isReady:
                    session.route.close()
                    return done(.failure(error))
                case .failure: serverInfo = ServerInfo(hostname: nil, os: nil, pythonVersion: nil)
                }
                done(.success(self.register(request: request, target: target, session: session, info: serverInfo)))
            }
        }
    }

    /// The sessions of a plan's jump hosts, each routed through the one before it.
    private func route(_ plan: RoutePlan) -> SSHRoute {
        switch plan {
        case .direct: return .direct
        case .command(let line): return .command(line)
        case .jump(let hops):
            var route = SSHRoute.direct
            for hop in hops {
                route = .jump(JumpHop(session: SSHSession(loop: loop, resolver: resolver, knownHosts: knownHosts,
                                                          target: hop, route: route)))
            }
            return route
        }
    }

    private func register(request: ConnectRequest, target: SSHSession.Target, session: SSHSession, info: ServerInfo) -> Connection {
        let id = newID()
        let connection = Connection(id: id, host: request.host, port: target.port, username: target.username,
                                    createdAt: Timestamp.now(), serverInfo: info, session: session)
        connection.changed = { [weak self] in self?.noteChange() }
        watch(connection)
        connections[id] = connection
        order.append(id)
        noteChange()
        recoverViewers(connection)
        return connection
    }

    /// Closes and forgets a connection; false when the id is unknown.
    @discardableResult
    public func disconnect(_ id: String) -> Bool {
        guard let connection = connections.removeValue(forKey: id) else { return false }
        order.removeAll { $0 == id }
        noteChange()
        cancelReconnect(connection)
        connection.session.onLost = nil
        for forward in connection.forwards { forward.tunnel.close() }
        connection.forwards = []
        if let viewer = connection.viewer { releaseViewer(viewer) }
        connection.session.disconnect()
        connection.session.route.close()
        return true
    }

    /// One measured SSH round trip in milliseconds.
    public func ping(_ connection: Connection, _ done: @escaping (Result<Double, SSHError>) -> Void) {
        guard connection.status == .connected else {
            if case .disconnected(let reason) = connection.status { return done(.failure(.disconnected(reason))) }
            return
        }
        // Pings arriving while one is in flight get its measurement: each is answered
        // within one round trip of its arrival, and a burst of pings costs one channel.
        connection.pingWaiters.append(done)
        guard connection.pingWaiters.count == 1 else { return }
        connection.session.ping(timeoutMs: Self.pingTimeoutMs) { result in
            // Holds the connection until answered (bounded by the ping timeout): no waiter is dropped.
            if case .success(let ms) = result { connection.lastRoundTripMs = ms }
            if case .failure(let error) = result, !connection.session.isReady {
                connection.status = .disconnected(reason: "\(error)")
            }
            let waiters = connection.pingWaiters
            connection.pingWaiters = []
            for waiter in waiters { waiter(result) }
        }
    }

    /// Disconnects everything (daemon shutdown).
    public func closeAll() {
        for id in order { disconnect(id) }
        for session in pendingSessions.values {
            session.disconnect()
            session.route.close()
        }
        pendingSessions = [:]
    }

    /// Tells `onChange` after the current event batch (many changes in one batch: once).
    func noteChange() {
        guard onChange != nil, !changeQueued else { return }
        changeQueued = true
        loop.runBeforeSleep { [weak self] in
            guard let self else { return }
            self.changeQueued = false
            self.onChange?()
        }
    }

    /// `conn_` + 8 random lowercase hex digits, never reused while the daemon runs.
    func newID(prefix: String = "conn_") -> String {
        while true {
            let r = UInt32.random(in: .min ... .max)   // SystemRandomNumberGenerator: getrandom(2)
            let hex = String(r, radix: 16)
            let id = prefix + String(repeating: "0", count: 8 - hex.count) + hex
            if issuedIDs.insert(id).inserted { return id }
        }
    }
}
