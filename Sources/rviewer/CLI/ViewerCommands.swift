import ArgumentParser
import Glibc
import RemoteAPI

/// `rviewer logs HOST`: the viewer's log, optionally followed.
struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the viewer's log on HOST.")
    /// How often `-f` reads the log again (the API has no log stream).
    static let followEverySeconds: UInt32 = 1

    @Argument(help: "[user@]host[:port] or an ~/.ssh/config alias.") var host: String
    @Option(name: .shortAndLong, help: "Lines from the end (default 100).") var n = 100
    @Flag(name: .shortAndLong, help: "Keep printing new lines as they come.") var follow = false
    @OptionGroup var options: ClientOptions

    func run() throws {
        try runClient {
            guard (1...10_000).contains(n) else { throw CLIError.usage("-n must be in 1...10000") }
            let session = try options.session()
            let id = try session.required(try Destination(host))
            var shown: [String] = []
            repeat {
                let lines = (try session.check(session.api.get("/api/remote/viewer/logs?connection_id=\(queryValue(id))&lines=\(n)"))["logs"]?.array ?? [])
                    .compactMap(\.string)
                // What is new after the last line shown (a log that moved past it is printed whole).
                let overlap = shown.last.flatMap { lines.lastIndex(of: $0) }
                let fresh = overlap.map { Array(lines[($0 + 1)...]) } ?? (shown.isEmpty || lines != shown ? lines : [])
                if options.json { for line in fresh { printJSON(.string(line)) } } else { for line in fresh { print(line) } }
                fflush(stdout)
                if !fresh.isEmpty { shown = lines }
                if follow { sleep(Self.followEverySeconds) }
            } while follow
        }
    }
}

/// `rviewer stop HOST`: stops the viewer.
struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the viewer on HOST.")
    @Argument(help: "[user@]host[:port] or an ~/.ssh/config alias.") var host: String
    @Flag(name: .customLong("keep-files"), help: "Keep the viewer's directory and log on the server.") var keepFiles = false
    @OptionGroup var options: ClientOptions

    func run() throws {
        try runClient {
            let session = try options.session()
            let id = try session.required(try Destination(host))
            let answer = try session.check(session.api.post("/api/remote/viewer/stop", .object([("connection_id", .string(id)), ("cleanup", .bool(!keepFiles))])))
            if options.json { printJSON(answer) } else { Terminal.note("viewer on \(host) stopped") }
        }
    }
}

/// `rviewer forward HOST REMOTE_PORT`: a local port to a port of HOST.
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "forward", abstract: "Forward a local port to REMOTE_PORT on HOST (ssh -L); prints the local URL.")
    @Argument(help: "[user@]host[:port] or an ~/.ssh/config alias.") var host: String
    @Argument(help: "The port on the server side.") var remotePort: Int
    @Option(name: .customLong("local-port"), help: "Local port (default: any free one).") var localPort: Int?
    @Option(name: .customLong("remote-host"), help: "Host the server connects to (default 127.0.0.1).") var remoteHost: String?
    @Option(name: .customLong("channels-ahead"), help: "Channels to the target kept open ahead of clients, 0-16 (default 0).") var channelsAhead: Int?
    @OptionGroup var login: LoginOptions
    @OptionGroup var options: ClientOptions

    func run() throws {
        try runClient {
            let session = try options.session()
            let (id, _) = try session.connection(try Destination(host), login: login)
            var body: [(String, JSON)] = [("connection_id", .string(id)), ("remote_port", .int(remotePort))]
            if let localPort { body.append(("local_port", .int(localPort))) }
            if let channelsAhead { body.append(("channels_ahead", .int(channelsAhead))) }
            if let remoteHost { body.append(("remote_host", .string(remoteHost))) }
            let answer = try session.check(session.api.post("/api/remote/forwards", .object(body)))
            Terminal.note("Forwarding from 127.0.0.1:\(answer["local_port"]?.int ?? 0) -> \(remoteHost ?? "127.0.0.1"):\(remotePort) on \(host)")
            if options.json { printJSON(answer) } else { print(answer["url"]?.string ?? "") }
        }
    }
}

/// `rviewer disconnect HOST`: closes the connection (and stops its viewer unless kept).
struct Disconnect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Disconnect from HOST (stops its viewer unless --keep-viewer).")
    @Argument(help: "[user@]host[:port] or an ~/.ssh/config alias.") var host: String
    @Flag(name: .customLong("keep-viewer"), help: "Leave the viewer running on the server.") var keepViewer = false
    @OptionGroup var options: ClientOptions

    func run() throws {
        try runClient {
            let session = try options.session()
            let id = try session.required(try Destination(host))
            let answer = try session.check(session.api.delete("/api/remote/connections/\(queryValue(id))?cleanup_viewer=\(!keepViewer)"))
            if options.json { printJSON(answer) } else { Terminal.note("disconnected from \(host) (\(id))") }
        }
    }
}
