import CLibSSH2
import Glibc
import HTTP1
import Logging
import Reactor
import RemoteAPI

/// Wires the daemon together: the loop, the API, the HTTP server, signals.
struct Daemon {
    let config: Config
    let logLevel: Logger.Level

    func run() throws {
        // Before any other thread exists, so every thread inherits the blocked mask.
        SignalSource.blockShutdownSignals()
        FileLimit.raiseToHardLimit()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let log = Logger(label: "rviewer")

        let stateDir = expandHome(config.stateDir)
        try makePrivateDirectory(stateDir)

        let loop = try EventLoop()
        let api = RemoteAPI(limits: config.http)
        let info = DaemonInfo(version: rviewerVersion,
                              libraries: [("libssh2", String(cString: cssh2_version()))],
                              startedAt: Timestamp.now(), startedMonotonic: MonotonicClock.now())
        api.addDaemonEndpoints(info: info, now: { loop.now }, connections: { [] })
        let server = try HTTPServer(loop: loop, host: config.host, port: config.port,
                                    limits: config.http, responder: api)
        api.listenPort = server.port

        var signals: SignalSource?
        signals = try SignalSource(loop: loop) { signo in
            log.notice("signal \(signo): shutting down (grace \(config.http.shutdownGraceMs) ms)")
            signals?.close()
            server.shutdown {
                log.notice("shutdown complete")
                loop.stop()
            }
        }

        log.notice("rviewer \(rviewerVersion) listening on http://\(config.host):\(server.port) (state \(stateDir))")
        // Tests and scripts read the bound port from this line on stdout.
        print("rviewer listening on http://\(config.host):\(server.port)")
        fflush(stdout)
        loop.run()
        _ = signals
    }
}
