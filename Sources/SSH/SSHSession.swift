import CLibSSH2
import Glibc
import Reactor

/// The driver of one SSH session: owns the socket, the libssh2 session and its
/// timers; performs what `SSHSessionStateMachine` decides and pumps the session's
/// channels. Every libssh2 call for this session happens here, on the loop thread.
public final class SSHSession: IOHandler {
    public struct Target: Sendable {
        public var host: String
        public var port: Int
        public var username: String
        public var auth: SSHAuthMethod
        /// Bound on resolve + connect + handshake + authentication (the request's `timeout`).
        public var timeoutMs: Int
        /// The host key fingerprint ("SHA256:...") the user accepted for this server
        /// (`accept_host_key`): trusted and recorded if the server presents exactly it.
        public var acceptHostKey: String?
        /// ssh_config's ServerAliveInterval and ServerAliveCountMax: SSH keepalives every
        /// `interval` seconds, and the link given up after about `interval` x (`countMax` + 1)
        /// seconds of unacknowledged data (TCP_USER_TIMEOUT). nil: the defaults below.
        public var serverAlive: (interval: Int, countMax: Int)?

        public init(host: String, port: Int, username: String, auth: SSHAuthMethod, timeoutMs: Int,
                    serverAlive: (interval: Int, countMax: Int)? = nil, acceptHostKey: String? = nil) {
            self.acceptHostKey = acceptHostKey
            self.host = host
            self.port = port
            self.username = username
            self.auth = auth
            self.timeoutMs = timeoutMs
            self.serverAlive = serverAlive
        }
    }

    /// Output kept per remote command (stdout + stderr); more is read and dropped.
    /// 4 MiB: far above what detection or logs print, small next to the RSS budget.
    public static let defaultOutputCap = 4 << 20

    public let target: Target
    /// How the server is reached (directly, through jump hosts, through a ProxyCommand).
    public let route: SSHRoute
    /// The stream a routed session speaks over (nil when direct).
    private var stream: SSHStream?
    unowned let loop: EventLoop
    private let resolver: Resolver
    private let knownHosts: KnownHosts
    private(set) var machine: SSHSessionStateMachine
    private var addresses: [SocketAddress] = []
    private var fd: Int32 = -1
    private var token: Token?
    var session: OpaquePointer?
    private let context: UnsafeMutablePointer<cssh2_ctx>
    private let agentAuth: AgentAuth
    /// The RSA key file while it is offered with SHA-2 (libssh2 1.10).
    private let rsaKeyAuth = RSAKeyFileAuth()
    /// A keyboard-interactive login that may ask the user, while it runs.
    private var secondFactor: SecondFactorLogin?
    /// The login asked the user something (a second factor): such a connection is never
    /// logged in again behind the user's back.
    public private(set) var usedSecondFactor = false
    private var onConnect: ((Result<Void, SSHError>) -> Void)?
    /// Called once if a ready session dies (not after a requested disconnect).
    public var onLost: ((SSHError) -> Void)?
    private var deadline: Reactor.Timer!
    private var keepalive: Reactor.Timer!
    /// Seconds between SSH keepalives on an idle session (OpenSSH's ServerAliveInterval
    /// is off by default; 30 s keeps NAT and firewall state alive). Dead peers are found
    /// by TCP keepalive on the socket (Socket.setKeepAlive), which libssh2 cannot do.
    static let keepaliveInterval: Int32 = 30

    var keepaliveSeconds: Int32 { target.serverAlive.map { Int32($0.interval) } ?? Self.keepaliveInterval }

    // Channel pump state.
    var channels: [SessionChannel] = []
    var sendOwner: SessionChannel?
    var pumpScheduled = false
    var pumpRotation = 0
    /// The channel opened ahead for the next command (nil while none; see WarmChannel).
    var warm: WarmChannel?
    /// Set when a warm channel's open failed: commands then open their own.
    var warmDisabled = false
    /// When a session channel of ours last finished (loop clock; 0: never).
    var lastSessionChannelEnd: UInt64 = 0
    /// Told (after the pump) when the last queued channel open completed; a tunnel's extra
    /// session uses it to take more waiting clients.
    var onOpenQueueEmpty: (() -> Void)?
    var openQueueWasBusy = false
    /// Told when the pump granted the open slot (a forward weighs its lanes then); keyed
    /// by the watcher, as several forwards share a connection's session.
    var openGrantWatchers: [ObjectIdentifier: () -> Void] = [:]
    /// How long channel opens take here (fed by the pump's grants).
    var openPace = OpenPace()
    /// How long connecting and logging in took (loop clock, ns; 0 until ready): what one
    /// more session to this server costs in time (see `LanePolicy`).
    private(set) var connectDurationNs: UInt64 = 0
    private var connectStartedNs: UInt64 = 0
    let readBuffer: UnsafeMutableRawBufferPointer

    public init(loop: EventLoop, resolver: Resolver, knownHosts: KnownHosts, target: Target, route: SSHRoute = .direct) {
        LibSSH2.initialize()
        self.route = route
        self.loop = loop
        self.resolver = resolver
        self.knownHosts = knownHosts
        self.target = target
        var keyIsRSA = false
        // PKCS#8 files do not name their algorithm outside the (maybe encrypted) body:
        // an unknown kind may be RSA; a key that turns out not to be costs no attempt.
        if case .key(let path, _) = target.auth { keyIsRSA = [.rsa, .unknown].contains(KeyFile.kind(ofFileAt: path)) }
        machine = SSHSessionStateMachine(method: target.auth, rsaSHA1Only: LibSSH2.signsRSAWithSHA1Only, keyIsRSA: keyIsRSA)
        context = .allocate(capacity: 1)
        context.initialize(to: cssh2_ctx())
        cssh2_ctx_init(context)
        agentAuth = AgentAuth()
        readBuffer = .allocate(byteCount: ExecChannel.readChunk, alignment: 16)
        deadline = loop.makeTimer { [unowned self] in self.act(self.machine.onTimeout()) }
        keepalive = loop.makeTimer { [unowned self] in self.sendKeepalive() }
    }

    deinit {
        teardown()
        cssh2_ctx_release(context)
        context.deallocate()
        readBuffer.deallocate()
    }

    public var isReady: Bool { machine.state == .ready }
    public var closedError: SSHError? {
        if case .closed(let e) = machine.state { return e ?? .disconnected("disconnected") }
        return nil
    }

    /// True when logging in again asks nobody anything: a key or the agent. A password may
    /// be answered by keyboard-interactive, where a server may add a second factor (a
    /// push to a phone): extra logins must never set that off.
    public var canLogInAgainSilently: Bool {
        switch target.auth {
        case .key, .agent: return true
        case .password: return false
        }
    }

    /// A new, unconnected session to the same server with the same user and credentials.
    public func makeSibling() -> SSHSession {
        SSHSession(loop: loop, resolver: resolver, knownHosts: knownHosts, target: target, route: route)
    }

    /// Never started (a routed hop connects such a session; a used one gets a sibling).
    var isFresh: Bool { machine.state == .idle }

    /// Connects and authenticates; `done` runs once, on the loop thread.
    public func connect(_ done: @escaping (Result<Void, SSHError>) -> Void) {
        onConnect = done
        connectStartedNs = loop.now
        loop.arm(deadline, after: .milliseconds(target.timeoutMs))
        if case .direct = route { act(machine.onStart()) } else { act(machine.onStartOverStream()) }
    }

    /// Closes the session; in-flight commands fail with `disconnected`.
    public func disconnect() { act(machine.onDisconnect()) }

    // MARK: actions

    func act(_ action: SSHSessionStateMachine.Action) {
        switch action {
        case .none:
            break
        case .resolve:
            resolver.resolve(host: target.host, port: target.port) { [weak self] result in
                guard let self else { return }
                switch result {
                case .success(let list):
                    self.addresses = list
                    self.act(self.machine.onResolved(count: list.count))
                case .failure(.notFound(let message)):
                    self.act(self.machine.onResolveFailed(message))
                }
            }
        case .connect(let index):
            startConnect(addresses[index])
        case .openStream:
            openStream()
        case .handshake:
            startHandshake()
        case .listAuth, .authenticate:
            drive()
        case .becomeReady:
            loop.disarm(deadline)
            connectDurationNs = loop.now &- connectStartedNs
            if let session { libssh2_keepalive_config(session, 0, UInt32(keepaliveSeconds)) }
            loop.arm(keepalive, after: .seconds(Double(keepaliveSeconds)))
            agentAuth.close()
            rsaKeyAuth.close()
            updateInterest(active: false)
            let done = onConnect
            onConnect = nil
            done?(.success(()))
        case .failConnect(let error):
            let explained = stream?.explain(error) ?? error
            teardown()
            let done = onConnect
            onConnect = nil
            done?(.failure(explained))
        case .lost(let error):
            failChannels(error)
            teardown()
            onLost?(error)
        case .disconnect:
            failChannels(.disconnected("disconnected by request"))
            uncorkOutput()   // a completion may disconnect from inside the pump
            if let session, sendOwner == nil { _ = cssh2_disconnect(session) }
            teardown()
        }
    }

    private func startConnect(_ address: SocketAddress) {
        closeSocket()
        do {
            let (newFD, result) = try Socket.connect(to: address)
            fd = newFD
            switch result {
            case .bytes:
                act(machine.onConnected())
            case .wouldBlock:
                token = loop.register(fd: fd, interest: .write, handler: self)
            case .error(let code):
                act(machine.onConnectFailed("\(address): \(String(cString: strerror(code)))"))
            case .eof:
                act(machine.onConnectFailed("\(address): connection closed"))
            }
        } catch {
            act(machine.onConnectFailed("\(error)"))
        }
    }

    /// Opens the route's stream; the handshake then runs over it as over TCP.
    private func openStream() {
        let opened = { [weak self] (result: Result<SSHStream, SSHError>) in
            guard let self else { return }
            guard case .connecting = self.machine.state else {       // gave up meanwhile
                if case .success(let s) = result { s.close(); Socket.close(s.fd) }
                return
            }
            switch result {
            case .success(let s):
                self.stream = s
                self.fd = s.fd
                self.act(self.machine.onConnected())
            case .failure(let error):
                self.act(self.machine.onStreamFailed(error))
            }
        }
        switch route {
        case .direct:
            preconditionFailure("a direct session resolves and connects")
        case .command(let line):
            opened(Result { try SSHStream.command(line) }.mapError { $0 as? SSHError ?? .connectionFailed("\($0)") })
        case .jump(let hop):
            hop.ready { [target] result in
                opened(result.flatMap { session in
                    Result { try SSHStream.through(session, hopLabel: hop.label, to: target.host, port: target.port) }
                        .mapError { ($0 as? SSHError ?? .connectionFailed("\($0)")).at(jumpHost: hop.label) }
                })
            }
        }
    }

    private func startHandshake() {
        if let alive = target.serverAlive {
            let i = Int32(alive.interval), c = Int32(alive.countMax)
            Socket.setKeepAlive(fd, idle: i, interval: i, count: c)   // no-ops on a stream's socketpair
        } else {
            Socket.setKeepAlive(fd)
        }
        if token == nil { token = loop.register(fd: fd, interest: .read, handler: self) }
        cssh2_ctx_reset_socket(context)   // a fresh socket
        guard let s = cssh2_session_init(context) else {
            act(machine.onFailure(.connectionFailed("cannot create an SSH session")))
            return
        }
        session = s
        libssh2_session_set_blocking(s, 0)
        CipherPreference.apply(to: s)
        if let methods = knownHosts.pinnedMethods(host: target.host, port: target.port) {
            _ = libssh2_session_method_pref(s, LIBSSH2_METHOD_HOSTKEY, methods)
        }
        drive()
    }

    // MARK: I/O

    public func handleIO(_ events: IOEvents) {
        if events.readable || events.hangup { cssh2_mark_readable(context) }
        switch machine.state {
        case .connecting(let index, _):
            let err = Socket.connectError(fd)
            if err == 0 && !events.hangup {
                act(machine.onConnected())
            } else {
                let code = err != 0 ? err : ECONNREFUSED
                act(machine.onConnectFailed("\(addresses[index]): \(String(cString: strerror(code)))"))
            }
        case .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating:
            drive()
        case .ready:
            if events.readable { Socket.setQuickAck(fd) }
            // Deliver whatever arrived before the server's FIN, then end the session: a
            // closed SSH connection cannot carry anything more, and a level-triggered
            // hangup would otherwise wake the loop forever (channels stuck closing).
            pump()
            if events.hangup, isReady {
                act(machine.onFailure(.disconnected("the server closed the connection")))
            }
        case .idle, .resolving, .closed:
            break
        }
    }

    /// Runs the current connecting phase's libssh2 call until it blocks or finishes.
    private func drive() {
        guard let s = session else { return }
        switch machine.state {
        case .handshaking:
            let rc = libssh2_session_handshake(s, fd)
            if rc == LIBSSH2_ERROR_EAGAIN { return waitForSession() }
            guard rc == 0 else {
                return act(machine.onFailure(.connectionFailed("SSH handshake failed: \(SSHSession.lastError(s))")))
            }
            do {
                let verdict = try knownHosts.verify(session: s, host: target.host, port: target.port, accept: target.acceptHostKey)
                act(machine.onHandshakeDone(hostKey: verdict, host: KnownHosts.hostSpec(target.host, target.port)))
            } catch let error as SSHError {
                act(machine.onFailure(error))
            } catch {
                act(machine.onFailure(.connectionFailed("\(error)")))
            }
        case .listingAuth, .checkingPartialSuccess:
            let user = target.username
            let list = user.withCString { libssh2_userauth_list(s, $0, UInt32(user.utf8.count)) }
            if let list {
                act(machine.onAuthMethods(String(cString: list).split(separator: ",").map(String.init)))
            } else if libssh2_userauth_authenticated(s) == 1 {
                act(machine.onAuthMethods(nil))
            } else if cssh2_last_errno(s) == LIBSSH2_ERROR_EAGAIN {
                waitForSession()
            } else {
                act(machine.onFailure(.connectionFailed("cannot list authentication methods: \(SSHSession.lastError(s))")))
            }
        case .authenticating(let step, _, _):
            authenticate(step, session: s)
        case .idle, .resolving, .connecting, .ready, .closed:
            break
        }
    }

    private func authenticate(_ step: SSHAuthStep, session s: OpaquePointer) {
        if secondFactor?.running == true { return }   // the helper thread owns the session now
        if step == .keyboardInteractive {
            // After a key's partial success every prompt goes to the user.
            var password: String?
            if case .password(let pw) = target.auth { password = pw }
            return startSecondFactorLogin(s, password: password)
        }
        let outcome = AuthAttempt.run(step, session: s, target: target, context: context, agent: agentAuth, rsaKey: rsaKeyAuth)
        switch outcome {
        case .wouldBlock: waitForSession()
        case .success: act(machine.onAuthenticated())
        case .rejected(let rsa): act(machine.onAuthRejected(rsaKey: rsa))
        case .agentIdentities(let kinds): act(machine.onAgentIdentities(kinds))
        case .failed(let error): act(machine.onFailure(error))
        }
    }

    /// Keyboard-interactive that may ask the user (a second factor after the password):
    /// the login runs on a helper thread while the loop leaves this session alone.
    private func startSecondFactorLogin(_ s: OpaquePointer, password: String?) {
        // Out of epoll meanwhile: a hang-up is reported whatever the interest, and the
        // helper thread is the one to read the socket.
        if let token { loop.unregister(token) }
        token = nil
        let login = SecondFactorLogin(loop: loop) { [weak self] event in self?.secondFactorEvent(event) }
        secondFactor = login
        login.start(session: s, user: target.username, password: password, context: context)
    }

    private func secondFactorEvent(_ event: SecondFactorLogin.Event) {
        switch event {
        case .challenge(let challenge):
            // The connect is answered now; the login waits, half done, for `respond`.
            loop.disarm(deadline)
            usedSecondFactor = true
            let done = onConnect
            onConnect = nil
            done?(.failure(.secondFactorRequired(challenge)))
        case .finished(let rc):
            guard let s = session, case .authenticating = machine.state else { return }
            if token == nil { token = loop.register(fd: fd, interest: .read, handler: self) }
            switch rc {
            case 0: act(machine.onAuthenticated())
            case LIBSSH2_ERROR_AUTHENTICATION_FAILED, LIBSSH2_ERROR_METHOD_NOT_SUPPORTED:
                act(machine.onAuthRejected(rsaKey: false))
            default: act(machine.onFailure(.connectionFailed("authentication: \(SSHSession.lastError(s))")))
            }
        }
    }

    /// The user's answers to the challenge the connect (or an earlier respond) reported;
    /// `done` then hears how the login ends, or the next challenge. False when no prompt
    /// waits or the count differs (nothing changes then).
    public func respond(_ responses: [String], _ done: @escaping (Result<Void, SSHError>) -> Void) -> Bool {
        guard let login = secondFactor, login.running, case .authenticating = machine.state else { return false }
        guard login.answer(responses) else { return false }
        onConnect = done
        connectStartedNs = loop.now
        loop.arm(deadline, after: .milliseconds(target.timeoutMs))
        return true
    }

    /// Waits in the direction libssh2 asks for (curl's ssh_block2waitfor).
    private func waitForSession() {
        guard let token, let s = session else { return }
        let dirs = libssh2_session_block_directions(s)
        var interest: Interest = .read
        if dirs & cssh2_block_outbound() != 0 { interest.insert(.write) }
        loop.setInterest(token, interest)
    }

    /// Ready-state interest: reads while channels are active; otherwise the socket is
    /// left alone but a closed peer (RDHUP) is still heard; writes while libssh2 must send.
    func updateInterest(active: Bool) {
        guard let token, let s = session else { return }
        var interest: Interest = active ? .read : .peerClose
        if libssh2SendBlocked(s) || context.pointee.out_len > 0 {
            interest.insert(.write)
        }
        loop.setInterest(token, interest)
    }

    /// Sends a keepalive only on an idle session: libssh2 1.10 ignores EAGAIN here, so
    /// it must never interleave with another packet (notes pitfall 11).
    private func sendKeepalive() {
        guard isReady, let s = session else { return }
        var next: Int32 = keepaliveSeconds
        if channels.isEmpty && sendOwner == nil { _ = libssh2_keepalive_send(s, &next) }
        loop.arm(keepalive, after: .seconds(Double(max(next, 1))))
    }

    // MARK: teardown

    private func closeSocket() {
        if let token { loop.unregister(token) }
        token = nil
        if fd >= 0 { Socket.close(fd) }
        fd = -1
    }

    /// shutdown -> session_free -> close: never close the fd before libssh2 is done
    /// with it (notes §3.8); the dead socket makes libssh2's last sends fail fast.
    private func teardown() {
        loop.disarm(deadline)
        loop.disarm(keepalive)
        agentAuth.close()
        rsaKeyAuth.close()
        if fd >= 0 { Socket.shutdownBoth(fd) }
        // A login on the helper thread leaves libssh2 once its wait ends and its socket is
        // shut down; only then may the session be freed.
        if let login = secondFactor, login.running { login.cancel(join: true) }
        secondFactor = nil
        if let s = session {
            libssh2_session_set_blocking(s, 1)
            libssh2_session_free(s)
        }
        session = nil
        closeSocket()
        stream?.close()
        stream = nil
        cssh2_ctx_reset_socket(context)   // the socket is gone: queued output with it
    }

    /// Bytes libssh2 has read from the socket so far (counted in its recv callback).
    var socketBytesRead: UInt64 { UInt64(context.pointee.received) }

    /// Queues libssh2's output until `uncorkOutput` (see cssh2_send).
    func corkOutput() { context.pointee.corked = 1 }

    /// Writes what the pump queued; the rest waits for EPOLLOUT (see updateInterest).
    func uncorkOutput() {
        context.pointee.corked = 0
        flushQueuedOutput()
    }

    /// Writes queued output now, corked or not (a failed socket shows as a hangup event next).
    func flushQueuedOutput() {
        guard fd >= 0, context.pointee.out_len > 0 else { return }
        _ = cssh2_flush(fd, context)
    }

    static func lastError(_ s: OpaquePointer) -> String {
        var msg: UnsafeMutablePointer<CChar>?
        var len: Int32 = 0
        let code = libssh2_session_last_error(s, &msg, &len, 0)
        guard let msg, len > 0 else { return "libssh2 error \(code)" }
        return String(cString: msg)
    }
}

extension LibSSH2 {
    /// libssh2 before 1.11 signs RSA user keys with ssh-rsa (SHA-1) only.
    static var signsRSAWithSHA1Only: Bool {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard parts.count >= 2 else { return true }
        return parts[0] < 1 || (parts[0] == 1 && parts[1] < 11)
    }
}
