import CFastCTR
import CFastHMAC
import CRandomBuffer
import CLibSSH2
import CLinuxSys
import Glibc
import HTTP1
import Logging
import Reactor
import Remote
import RemoteAPI
import SSH

/// Wires the daemon together: the loop, the API, the HTTP server, signals.
struct Daemon {
    /// Free heap glibc keeps before returning it to the kernel (see run()).
    static let heapTrimThreshold: Int32 = 32 << 20

    let config: Config
    let logLevel: Logger.Level

    func run() throws {
        // Before any other thread exists, so every thread inherits the blocked mask.
        SignalSource.blockShutdownSignals()
        signal(SIGCHLD, SIG_IGN)   // children (xdg-open) are reaped by the kernel
        FileLimit.raiseToHardLimit()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let log = Logger(label: "rviewer")

        let stateDir = expandHome(config.stateDir)
        try makePrivateDirectory(stateDir)
        let stateLock = try lockStateDirectory(stateDir)
        defer { close(stateLock) }

        // libssh2 allocates and frees a buffer per SSH packet, and libssh2 1.10's channel
        // read drains the socket for every channel first, so packets queue by the window
        // (2 MiB per channel). With glibc's default trim threshold (128 KiB) the heap top
        // was given back and faulted in again: page faults were 12% of a bulk download.
        // 4 MiB fixed that for one stream but not for 8 clients fetching 1 MiB each
        // (~8 MiB queued): the heap grew and shrank ~25 times a second (strace), and
        // 32 MiB took that load from 205-223 to 256-291 MB/s (wrk, the two alternated).
        // The peak RSS is the same (the queue is the peak); only its release waits.
        _ = csys_malloc_trim_threshold(Self.heapTrimThreshold)
        let loop = try EventLoop()
        LibSSH2.initialize()
        let home = getenv("HOME").map { String(cString: $0) } ?? "/"
        let sshConfig = FileContents.read(home + "/.ssh/config").map {
            SSHConfigFile(text: String(decoding: $0, as: UTF8.self), include: { SSHConfigIncludes.read($0, home: home) })
        }
        let registry = ConnectionRegistry(
            loop: loop, resolver: Resolver(loop: loop),
            knownHosts: KnownHosts(ownFile: stateDir + "/known_hosts", userFile: home + "/.ssh/known_hosts", policy: config.hostKeyPolicy),
            environment: SSHEnvironment(home: home, config: sshConfig,
                                        agentSocket: getenv("SSH_AUTH_SOCK").map { String(cString: $0) }))
        registry.lanePolicy = LanePolicy(maxExtraLanes: config.tunnelExtraSessions)
        let sameUser = SameUserGuard(allowOtherUsers: config.allowOtherUsers)
        registry.sameUserGuard = sameUser
        registry.challengeSeconds = config.secondFactorTimeoutSeconds
        let api = RemoteAPI(limits: config.http)
        let info = DaemonInfo(version: rviewerVersion, libraries: [("libssh2", LibSSH2.version)],
                              startedAt: Timestamp.now(), startedMonotonic: MonotonicClock.now())
        let ledger = ViewerLedgerFile(path: stateDir + "/viewers")
        api.addDaemonEndpoints(info: info, now: { loop.now }, connections: { registry.summaries }, warnings: {
            ledger.lastError.map { ["the viewer ledger \(ledger.path) cannot be written (\($0)): viewers started now are not recorded, so a restarted daemon will not find them"] } ?? []
        })
        api.addConsoleEndpoints()
        api.addEventsEndpoint(loop: loop, registry: registry)
        api.addMetricsEndpoint { Self.metrics(registry, ledger: ledger, eventStreams: api.eventStreamCount()) }
        api.addConnectionEndpoints(registry: registry)
        api.addEnvironmentEndpoints(registry: registry)
        api.addForwardEndpoints(registry: registry)
        api.addKnownHostsEndpoints(registry: registry)
        api.addHostsEndpoint(environment: registry.environment)
        for route in api.addOpenAPIEndpoint() { log.error("route \(route) is not in the OpenAPI document") }
        api.addViewerEndpoints(registry: registry, openURL: DesktopBrowser.open)
        registry.onViewerFailed = { connection, viewer in log.warning("viewer \(viewer.id) on \(connection.id) died") }
        ledger.onSaveFailed = { log.error("viewer ledger: \($0)") }
        if ledger.rejectedAtLoad > 0 { log.warning("viewer ledger \(ledger.path): \(ledger.rejectedAtLoad) line(s) ignored (not rviewer's format)") }
        if !ledger.ledger.records.isEmpty {
            log.notice("\(ledger.ledger.records.count) viewer(s) an earlier run did not stop are recorded; each is looked for when its server is connected again")
        }
        registry.ledger = ledger
        registry.onViewerRecovery = { log.notice("\($0)") }
        api.log = { log.info("\($0)") }
        registry.onLost = { connection, error in
            log.warning("\(connection.id) lost: \(error)\(connection.reconnect.isTrying ? "; logging in again" : "")")
        }
        registry.onReconnected = { connection, dropped in
            log.notice("\(connection.id) reconnected; \(connection.forwards.count) forward(s) listening again")
            for forward in dropped { log.warning("\(connection.id): forward \(forward) could not listen again and was closed") }
        }
        registry.onReconnectGaveUp = { connection, reason in log.warning("\(connection.id) stays disconnected: \(reason)") }
        let server = try HTTPServer(loop: loop, host: config.host, port: config.port,
                                    limits: config.http, responder: api)
        api.listenPort = server.port
        server.refusal = { fd in sameUser.admits(fd) ? nil : APIError.forbiddenUser().response }

        var signals: SignalSource?
        signals = try SignalSource(loop: loop) { signo in
            log.notice("signal \(signo): shutting down (grace \(config.http.shutdownGraceMs) ms)")
            signals?.close()
            server.shutdown {
                let stops = registry.shutdown(budgetMs: ConnectionRegistry.shutdownStopBudgetMs) {
                    log.notice("shutdown complete")
                    loop.stop()
                }
                if stops > 0 { log.notice("stopping \(stops) viewer(s) before exit") }
            }
        }

        log.notice("rviewer \(rviewerVersion) listening on http://\(config.host):\(server.port) (state \(stateDir))")
        // Tests and scripts read the bound port from this line on stdout.
        print("rviewer listening on http://\(config.host):\(server.port)")
        fflush(stdout)
        loop.run()
        _ = signals
    }

    /// The families of `GET /metrics` (the API adds its request counts and latencies).
    static func metrics(_ registry: ConnectionRegistry, ledger: ViewerLedgerFile, eventStreams: Int) -> [MetricFamily] {
        typealias Sample = MetricFamily.Sample
        let ctr = rv_fastctr_get_stats()
        let mac = rv_fasthmac_get_stats()
        let rand = rv_randbuf_get_stats()
        let connections = registry.all
        var byStatus: [String: Int] = ["connected": 0, "disconnected": 0, "reconnecting": 0]
        for c in connections { byStatus[c.reconnect.isTrying ? "reconnecting" : c.status.name, default: 0] += 1 }
        // Every tunnel: the generic forwards and the viewers' tunnels.
        let tunnels: [(id: String, forward: LocalForward)] = connections.flatMap { c in
            c.forwards.map { ($0.id, $0.tunnel) } + (c.viewer?.forward.map { [(c.viewer!.id, $0)] } ?? [])
        }
        let live = connections.filter { $0.status == .connected }
        let sessions = live.reduce(0) { $0 + 1 + $1.via.count } + tunnels.reduce(0) { $0 + max(0, $1.forward.sessionCount - 1) }
        let channels = live.reduce(0) { $0 + $1.commandChannelCount } + tunnels.reduce(0) { $0 + $1.forward.channelCount }
        return [
            MetricFamily("rviewer_connections", .gauge, help: "SSH connections the daemon holds, by status",
                         byStatus.sorted { $0.key < $1.key }.map { Sample(Double($0.value), labels: [("status", $0.key)]) }),
            MetricFamily("rviewer_ssh_sessions", .gauge, UInt64(sessions),
                         help: "SSH sessions logged in: one per connection, one per jump host, extra sessions of busy tunnels"),
            MetricFamily("rviewer_ssh_channels", .gauge, UInt64(channels), help: "SSH channels open: commands, pings, tunnel clients and spares"),
            MetricFamily("rviewer_forwards", .gauge, UInt64(connections.reduce(0) { $0 + $1.forwards.count }), help: "Port forwards listening"),
            MetricFamily("rviewer_tunnel_clients_active", .gauge, UInt64(tunnels.reduce(0) { $0 + $1.forward.counters.activeClients }),
                         help: "Local clients connected through forwards and viewer tunnels now"),
            MetricFamily("rviewer_tunnel_clients_total", .counter, UInt64(tunnels.reduce(0) { $0 + $1.forward.counters.totalClients }),
                         help: "Local clients served by the forwards and viewer tunnels that exist now"),
            MetricFamily("rviewer_tunnel_bytes_total", .counter, help: "Bytes through each forward or viewer tunnel (up: client to server)",
                         tunnels.flatMap { t in [Sample(Double(t.forward.counters.bytesUp), labels: [("tunnel", t.id), ("direction", "up")]),
                                                 Sample(Double(t.forward.counters.bytesDown), labels: [("tunnel", t.id), ("direction", "down")])] }),
            MetricFamily("rviewer_ssh_round_trip_seconds", .gauge, help: "The last measured SSH round trip (ping) of each connection",
                         connections.compactMap { c in c.lastRoundTripMs.map { Sample($0 / 1000, labels: [("connection", c.id)]) } }),
            MetricFamily("rviewer_reconnect_attempts_total", .counter, registry.reconnectAttempts, help: "Logins tried again after a lost session"),
            MetricFamily("rviewer_viewer_starts_total", .counter, registry.viewerStarts, help: "Viewers started (answered 200)"),
            MetricFamily("rviewer_viewer_start_failures_total", .counter, registry.viewerStartFailures,
                         help: "Viewer starts that failed once accepted (environment or Runicorn missing, detection failed, the viewer did not come up)"),
            MetricFamily("rviewer_event_streams", .gauge, UInt64(eventStreams), help: "Open GET /api/events streams"),
            MetricFamily("rviewer_ledger_save_failures_total", .counter, ledger.saveFailures,
                         help: "Writes of the viewer ledger (the state directory's viewers file) that failed"),
            MetricFamily("rviewer_ctr_cache_contexts_total", .counter, ctr.contexts,
                         help: "AES-CTR cipher contexts set up with the keystream cache (two per SSH key exchange)"),
            MetricFamily("rviewer_ctr_cache_keystream_bytes_total", .counter, ctr.bytes_served,
                         help: "AES-CTR keystream bytes computed ahead and served block by block"),
            MetricFamily("rviewer_ctr_cache_passthrough_bytes_total", .counter, ctr.bytes_passed_through,
                         help: "Bytes of cached AES-CTR contexts handed straight to OpenSSL (calls of 4 KiB and more)"),
            MetricFamily("rviewer_hmac_cache_macs_total", .counter, mac.macs,
                         help: "Packet MACs computed from cached keyed states (hmac-sha1, hmac-sha2-256, hmac-sha2-512)"),
            MetricFamily("rviewer_hmac_cache_pads_total", .counter, mac.pads_computed,
                         help: "Keyed states computed (about one per MAC key, i.e. per direction and key exchange)"),
            MetricFamily("rviewer_hmac_cache_passthrough_total", .counter, mac.passed_through,
                         help: "HMAC contexts handed to OpenSSL's own HMAC (other digests)"),
            MetricFamily("rviewer_rand_buffer_served_total", .counter, rand.served,
                         help: "Small RAND_bytes calls (packet padding) served from the buffer of OpenSSL random bytes"),
            MetricFamily("rviewer_rand_buffer_refills_total", .counter, rand.refills,
                         help: "4 KiB draws from OpenSSL's RAND_bytes that refilled the buffer"),
        ]
    }
}
