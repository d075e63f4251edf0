import Glibc
import Reactor
import SSH

/// Starting, watching and stopping viewers (the domain behind /api/remote/viewer/*).
extension ConnectionRegistry {
    /// Bound on a viewer's start: Runicorn imports FastAPI and friends in a few seconds.
    public static let viewerStartTimeoutSeconds = 60
    /// Each probe through the tunnel must answer within this.
    static let probeTimeoutMs = 2_000
    /// A running viewer's process is checked this often (its death is noticed within it).
    static let viewerMonitorMs = 5_000
    /// TERM -> KILL grace period on stop, in tenths of a second (5 s).
    static let stopGraceTenths = 50
    /// Bound on the viewer's remote commands (launch, check, stop, logs).
    static let viewerCommandTimeoutMs = 30_000
    /// Log lines carried in a start failure.
    static let startFailureLogLines = 20
    /// Channels the viewer's tunnel keeps open ahead of its clients. A browser opens up
    /// to 6 connections to a host at once, and libssh2 opens one channel at a time per
    /// session: at a 50 ms round trip 6 new clients waited 362 ms for their last first
    /// byte (`ssh -L`, which sends the opens together: 148 ms). With spares they skip the
    /// open. The viewer is an HTTP server, so idle connections to it are harmless.
    static let viewerSpareChannels = 6

    public func startViewer(_ connection: Connection, envName: String, remoteRoot: String?, localPort: Int?,
                            _ done: @escaping (Result<Viewer, ViewerError>) -> Void) {
        guard connection.status == .connected else {
            if case .disconnected(let reason) = connection.status { done(.failure(.ssh(.disconnected(reason)))) }
            return
        }
        if let current = connection.viewer, current.machine.isActive { return done(.failure(.alreadyRunning)) }
        // A pinned local port that is taken fails now, before anything runs on the server.
        if let port = localPort, let error = Self.unavailable(localPort: port) {
            return done(.failure(.ssh(.invalidParameters("cannot listen on local port \(port): \(error)"))))
        }
        // Claim the slot before any await: a second start now gets 409.
        let viewer = Viewer(id: newID(prefix: "viewer_"), envName: envName)
        viewer.startWaiter = { [weak self] result in
            switch result {
            case .success: self?.viewerStarts += 1
            case .failure: self?.viewerStartFailures += 1
            }
            done(result)
        }
        connection.viewer = viewer
        environments(connection, force: false) { [weak self, weak connection] result in
            guard let self, let connection else { return }
            func fail(_ e: ViewerError) {
                if connection.viewer === viewer { connection.viewer = nil }
                let action = viewer.machine.onLaunchFailed("\(e)")   // nothing was launched
                viewer.answerStart(.failure(e))
                if case .abortStart = action { self.finishStop(viewer, .success(())) }
            }
            let detection: DetectionResult
            switch result {
            case .failure(let e): return fail(.ssh(e))
            case .success(let d): detection = d
            }
            guard let env = detection.environment(named: envName) else { return fail(.environmentNotFound(envName)) }
            guard env.runicornInstalled else {
                return fail(.notInstalled(installCommand: ShellQuote.command([env.pythonPath, "-m", "pip", "install", "runicorn"])))
            }
            let storage = remoteRoot ?? env.storageRoot
            let script = ViewerScripts.launch(id: viewer.id, python: env.pythonPath, storage: storage)
            connection.session.exec(script, timeoutMs: Self.viewerCommandTimeoutMs, outputCap: 4096) { outcome in
                self.launched(connection, viewer, outcome, localPort: localPort)
            }
        }
    }

    private func launched(_ connection: Connection, _ viewer: Viewer, _ outcome: Result<ExecResult, SSHError>,
                          localPort: Int?) {
        var fields: [String: String] = [:]
        if case .success(let r) = outcome {
            for line in r.stdoutText.split(separator: "\n") {
                if let eq = line.firstIndex(of: "=") { fields[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
            }
        }
        guard let pid = fields["PID"].flatMap(Int.init), let port = fields["PORT"].flatMap(Int.init), let dir = fields["DIR"] else {
            let reason: String
            switch outcome {
            case .failure(let e): reason = "\(e)"
            case .success(let r): reason = "launch command failed (exit \(r.exitStatus)): \(String(decoding: r.stderr, as: UTF8.self))"
            }
            if connection.viewer === viewer { connection.viewer = nil }
            return act(connection, viewer, viewer.machine.onLaunchFailed(reason))
        }
        viewer.pid = pid
        viewer.remotePort = port
        viewer.directory = dir
        record(connection, viewer)   // from now on it runs on the server: never unrecorded
        let action = viewer.machine.onLaunched()
        if case .probe = action, !openTunnel(connection, viewer, localPort: localPort ?? 0, remotePort: port) { return }
        act(connection, viewer, action)
    }

    /// Why 127.0.0.1:`port` cannot be listened on now; nil when it can (0: any port can).
    static func unavailable(localPort port: Int) -> Error? {
        guard port != 0 else { return nil }
        do { Socket.close(try Socket.listen(host: "127.0.0.1", port: port, backlog: 1)) } catch { return error }
        return nil
    }

    /// Listens on `localPort` (0: any free one) for the viewer and arms the start
    /// deadline, which bounds the probing; false, after failing the start, when it cannot.
    private func openTunnel(_ connection: Connection, _ viewer: Viewer, localPort: Int, remotePort: Int) -> Bool {
        do {
            viewer.tunnel = try connection.session.forward(localPort: localPort, remoteHost: "127.0.0.1", remotePort: remotePort,
                                                           lanePolicy: lanePolicy, spareChannels: Self.viewerSpareChannels,
                                                           peerGuard: sameUserGuard)
        } catch {
            // The error already names the port ("cannot listen on local port N: ...").
            act(connection, viewer, viewer.machine.onTunnelFailed("\(error)"))
            return false
        }
        let deadline = loop.makeTimer { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.act(connection, viewer, viewer.machine.onStartTimeout(seconds: Self.viewerStartTimeoutSeconds))
        }
        viewer.timer = deadline
        loop.arm(deadline, after: .seconds(Double(Self.viewerStartTimeoutSeconds)))
        return true
    }

    /// The connection is back under the viewer (Reconnect.swift).
    func viewerReconnected(_ connection: Connection, _ viewer: Viewer) {
        act(connection, viewer, viewer.machine.onReconnected())
    }

    /// Performs a viewer action.
    func act(_ connection: Connection, _ viewer: Viewer, _ action: ViewerStateMachine.Action) {
        switch action {
        case .none:
            break
        case .probe(let after):
            loop.schedule(after: .milliseconds(after)) { [weak self, weak connection] in
                guard let self, let connection, let port = viewer.localPort else { return }
                self.probeTunnel(port: port) { ok in
                    self.act(connection, viewer, viewer.machine.onProbe(ok: ok))
                }
            }
        case .checkProcess:
            checkProcess(connection, viewer) { alive, tail in
                self.act(connection, viewer, viewer.machine.onProcessCheck(alive: alive, logTail: tail))
            }
        case .reportStarted:
            if let t = viewer.timer { loop.disarm(t) }
            if viewer.startedAt == nil {   // a viewer taken back after a reconnect keeps its start
                let t = time(nil)
                viewer.startedAt = Timestamp.format(t)
                viewer.startedEpoch = Int(t)
                viewer.startedMonotonic = loop.now
            }
            record(connection, viewer)   // with its local port and start time now
            startMonitor(connection, viewer)
            viewer.answerStart(.success(viewer))
        case .failStart(let reason):
            releaseViewer(viewer)
            if let pid = viewer.pid, let dir = viewer.directory {
                connection.session.exec(ViewerScripts.stop(pid: pid, directory: dir, graceTenths: 10, cleanup: false),
                                        timeoutMs: Self.viewerCommandTimeoutMs) { [weak self] outcome in
                    if case .success = outcome { self?.forget(viewer) }   // ended; else it may run on
                }
            }
            viewer.answerStart(.failure(.startFailed(reason)))
        case .failStartWithLog(let reason):
            releaseViewer(viewer)
            checkProcess(connection, viewer) { [weak self] _, tail in
                self?.act(connection, viewer, .failStart(tail.isEmpty ? reason : "\(reason); last log lines:\n\(tail)"))
            }
        case .closeTunnel:
            viewer.tunnel?.close()
        case .abortStart(let reason):
            viewer.answerStart(.failure(.startFailed(reason)))
            endProcess(connection, viewer)
        case .endProcess:
            endProcess(connection, viewer)
        case .awaitLaunch:
            break   // the launch's answer (bounded by the command timeout) carries the stop on
        case .refuseStop(let reason):
            viewer.answerStops(.failure(.disconnected(reason)))
        case .reopenTunnel:
            guard let port = viewer.localPort ?? viewer.preferredLocalPort, let remotePort = viewer.remotePort else {
                return act(connection, viewer, viewer.machine.onTunnelFailed("nothing recorded to reconnect to"))
            }
            if openTunnel(connection, viewer, localPort: port, remotePort: remotePort) { act(connection, viewer, .probe(afterMs: 0)) }
        }
    }

    /// The connection's session died under the viewer.
    func viewerConnectionLost(_ connection: Connection, _ viewer: Viewer, _ reason: String) {
        act(connection, viewer, viewer.machine.onConnectionLost(reason))
    }

    /// Closes the tunnel, ends the process group rviewer started (TERM, KILL after the
    /// grace period; `stopCleanup` also removes its directory), answers the stops.
    private func endProcess(_ connection: Connection, _ viewer: Viewer) {
        releaseViewer(viewer)
        guard let pid = viewer.pid, let dir = viewer.directory, connection.session.isReady else {
            // Nothing launched, or no way to reach it: a recorded process stays recorded.
            return finishStop(viewer, .success(()))
        }
        connection.session.exec(ViewerScripts.stop(pid: pid, directory: dir, graceTenths: Self.stopGraceTenths, cleanup: viewer.stopCleanup),
                                timeoutMs: Self.viewerCommandTimeoutMs) { [weak self] outcome in
            if case .success = outcome { self?.forget(viewer) }
            self?.finishStop(viewer, outcome.map { _ in () })
        }
    }

    private func finishStop(_ viewer: Viewer, _ result: Result<Void, SSHError>) {
        viewer.machine.onStopped()
        viewer.answerStops(result)
    }

    /// Notes the launched viewer in the ledger (ViewerLedger): if the daemon dies, the
    /// next run finds it through its server.
    private func record(_ connection: Connection, _ viewer: Viewer) {
        guard let ledger, let pid = viewer.pid, let port = viewer.remotePort, let dir = viewer.directory else { return }
        ledger.upsert(ViewerRecord(id: viewer.id, host: connection.host, port: connection.port, username: connection.username,
                                   envName: viewer.envName, pid: pid, remotePort: port, directory: dir,
                                   localPort: viewer.localPort ?? viewer.preferredLocalPort ?? 0,
                                   startedAt: viewer.startedAt ?? Timestamp.now(), startedEpoch: viewer.startedEpoch ?? Int(time(nil))))
    }

    /// Ends what the daemon holds for the viewer here: its start deadline, its process
    /// watch and its tunnel. Stops and failed starts go on to end the process; a
    /// connection that goes without stopping it (`cleanup_viewer=false`) leaves the
    /// process running, still in the ledger, for a later connection to take back.
    func releaseViewer(_ viewer: Viewer) {
        if let t = viewer.timer { loop.disarm(t) }
        if let m = viewer.monitor { loop.disarm(m) }
        viewer.tunnel?.close()
    }

    /// The viewer's process is known to have ended.
    func forget(_ viewer: Viewer) {
        ledger?.remove(id: viewer.id)
    }

    /// True when an HTTP GET of the viewer's /api/health through the local listener got
    /// an HTTP answer (2xx-4xx: the viewer served it; 5xx or no answer: it did not).
    private func probeTunnel(port: Int, _ done: @escaping (Bool) -> Void) {
        HealthProbe.get(loop: loop, port: port, path: "/api/health", timeoutMs: Self.probeTimeoutMs) { status in
            done(status.map { (200..<500).contains($0) } ?? false)
        }
    }

    private func checkProcess(_ connection: Connection, _ viewer: Viewer, _ done: @escaping (Bool, String) -> Void) {
        guard let pid = viewer.pid, let dir = viewer.directory, connection.status == .connected else { return done(false, "") }
        connection.session.exec(ViewerScripts.check(pid: pid, directory: dir, tail: Self.startFailureLogLines),
                                timeoutMs: Self.viewerCommandTimeoutMs) { outcome in
            guard case .success(let r) = outcome else { return done(false, "") }
            let text = r.stdoutText
            done(text.hasPrefix("ALIVE"), String(text.drop { $0 != "\n" }.dropFirst()))
        }
    }

    /// Watches a running viewer's process; a dead one becomes `failed` and its tunnel closes.
    private func startMonitor(_ connection: Connection, _ viewer: Viewer) {
        let tick: () -> Void = { [weak self, weak connection, weak viewer] in
            guard let self, let connection, let viewer, viewer.machine.state == .running else { return }
            self.checkProcess(connection, viewer) { alive, tail in
                if case .closeTunnel = viewer.machine.onProcessCheck(alive: alive, logTail: tail) {
                    viewer.tunnel?.close()
                    self.forget(viewer)
                    self.onViewerFailed?(connection, viewer)
                }
                if viewer.machine.state == .running, let m = viewer.monitor { self.loop.arm(m, after: .milliseconds(Self.viewerMonitorMs)) }
            }
        }
        let timer = loop.makeTimer(tick)
        viewer.monitor = timer
        loop.arm(timer, after: .milliseconds(Self.viewerMonitorMs))
    }

    /// How long daemon shutdown waits for its viewers' stops: the TERM -> KILL grace plus
    /// 2 s for the stop command's round trips on a slow link.
    public static let shutdownStopBudgetMs = stopGraceTenths * 100 + 2_000

    /// Daemon shutdown: stops every viewer rviewer started, as DELETE with
    /// `cleanup_viewer` does (TERM, KILL after the grace period, directory removed),
    /// then closes every session. Left running, a viewer would be unreachable (its
    /// tunnel dies with the daemon) and forgotten. `done` runs once every stop answered,
    /// or after `budgetMs` with whatever is left. Returns how many stops were sent.
    @discardableResult
    public func shutdown(budgetMs: Int, _ done: @escaping () -> Void) -> Int {
        let connected = all.filter { $0.status == .connected }
        let stopping = connected.filter { $0.viewer?.machine.isActive == true }
        var pending = stopping.count
        var finished = false
        let finish = { [weak self] in
            guard !finished else { return }
            finished = true
            self?.closeAll()
            done()
        }
        guard pending > 0 else { finish(); return 0 }
        for connection in stopping {
            stopViewer(connection, cleanup: true) { _ in
                pending -= 1
                if pending == 0 { finish() }
            }
        }
        loop.schedule(after: .milliseconds(budgetMs)) { finish() }
        return stopping.count
    }

    /// Stops the connection's viewer (TERM, then KILL after the grace period); `cleanup`
    /// also removes its remote directory and log. A stop during the start answers the
    /// start request with a failure; a stop while the launch command runs waits for its
    /// answer, so what it launched is ended too.
    public func stopViewer(_ connection: Connection, cleanup: Bool, _ done: @escaping (Result<Void, SSHError>) -> Void) {
        guard let viewer = connection.viewer else { return done(.success(())) }
        viewer.stopWaiters.append(done)
        viewer.stopCleanup = viewer.stopCleanup || cleanup
        act(connection, viewer, viewer.machine.onStop())
    }

    /// The last `lines` lines of the viewer's log (one round trip).
    public func viewerLogs(_ connection: Connection, lines: Int, _ done: @escaping (Result<[String], SSHError>) -> Void) {
        guard let dir = connection.viewer?.directory else { return done(.success([])) }
        connection.session.exec(ViewerScripts.logs(directory: dir, lines: lines), timeoutMs: Self.viewerCommandTimeoutMs) { outcome in
            done(outcome.map { r in r.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty } })
        }
    }

    /// viewer_process and tunnel_active for the health endpoint: nil when there is no viewer.
    public func viewerChecks(_ connection: Connection, _ done: @escaping ((process: Bool, tunnel: Bool)?) -> Void) {
        guard let viewer = connection.viewer, viewer.pid != nil, viewer.machine.state != .stopped else { return done(nil) }
        checkProcess(connection, viewer) { [weak self] alive, _ in
            guard let self, let port = viewer.localPort, viewer.tunnel?.isOpen == true else { return done((alive, false)) }
            self.probeTunnel(port: port) { ok in done((alive, ok)) }
        }
    }
}
