import ArgumentParser
import CLibSSH2
import Glibc
import HTTP1
import Logging
import Reactor
import RemoteAPI

/// rviewer's version, reported by `--version` and `GET /api/health`.
let rviewerVersion = "0.1.0"

@main
struct RViewer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rviewer",
        abstract: "Serve the Remote Viewer API: SSH to GPU servers, run Runicorn there, view it locally.",
        version: rviewerVersion,
        subcommands: [Serve.self, Open.self, List.self, Envs.self, Logs.self, Stop.self, ForwardCommand.self, Disconnect.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon (the default).")

    @Option(help: "Address to listen on (numeric IPv4 or IPv6; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one (default 23300).")
    var port: Int?

    @Option(help: "Configuration file (JSON; see config/rviewer.json).")
    var config: String?

    @Option(name: .customLong("state-dir"), help: "Where the daemon keeps its state (known_hosts, the viewer ledger, its lock).")
    var stateDir: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    func run() throws {
        var cfg = Config()
        do {
            if let config { try cfg.load(path: config) }
        } catch {
            throw ValidationError("\(error)")
        }
        if let host { cfg.host = host }
        if let port {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
            cfg.port = port
        }
        if let stateDir { cfg.stateDir = stateDir }
        if let logLevel { cfg.logLevel = logLevel }
        guard let level = Logger.Level(rawValue: cfg.logLevel) else {
            throw ValidationError("unknown log level '\(cfg.logLevel)'")
        }
        try Daemon(config: cfg, logLevel: level).run()
    }
}
