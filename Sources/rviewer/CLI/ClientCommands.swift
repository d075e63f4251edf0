import ArgumentParser
import Glibc
import Remote
import RemoteAPI

/// `rviewer open HOST`: connect (or reuse), detect, pick the environment, start the
/// viewer (or find it running), print its URL as the last line of stdout.
struct Open: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open HOST's Runicorn viewer: connect, pick the environment, start, print the URL.")

    @Argument(help: "[user@]host[:port] or an ~/.ssh/config alias.") var host: String
    @Option(help: "Environment to run the viewer in (default: the one with the newest Runicorn).") var env: String?
    @Option(help: "Runicorn storage root on the server (default: the environment's own).") var root: String?
    @Option(name: .customLong("local-port"), help: "Local port for the viewer (default: any free one).") var localPort: Int?
    @Flag(name: .customLong("no-browser"), help: "Do not open the URL in the browser.") var noBrowser = false
    @OptionGroup var login: LoginOptions
    @OptionGroup var options: ClientOptions

    func run() throws {
        try runClient {
            let session = try options.session()
            let destination = try Destination(host)
            var t = Terminal.now()
            let (id, reusedConnection) = try session.connection(destination, login: login)
            Terminal.progress(reusedConnection ? "reusing connection \(id) to \(host)" : "connected to \(host): \(id)", since: t)
            t = Terminal.now()
            let status = try session.check(session.api.get("/api/remote/viewer/status?connection_id=\(queryValue(id))"))["viewer"] ?? .null
            var url = status["url"]?.string
            var envName = status["env_name"]?.string
            let reusedViewer = status["status"]?.string == "running" && url != nil
            if reusedViewer {
                Terminal.progress("viewer already running in \(envName ?? "?")", since: t)
            } else {
                let envs = try session.check(session.api.get("/api/remote/environments?connection_id=\(queryValue(id))"))["environments"]?.array ?? []
                Terminal.progress("\(envs.count) environment(s) found", since: t)
                let candidates = envs.map { EnvironmentChoice.Candidate(name: $0["name"]?.string ?? "", runicornInstalled: $0["runicorn_installed"]?.bool == true,
                                                                        runicornVersion: $0["runicorn_version"]?.string) }
                switch EnvironmentChoice.pick(candidates, named: env) {
                case .use(let name): envName = name
                case .notFound(let name):
                    throw CLIError.api(code: "environment_not_found", message: "no environment '\(name)' on \(host); `rviewer envs \(host)` lists them")
                case .noneWithRunicorn:
                    throw CLIError.api(code: "runicorn_not_installed", message: "no environment on \(host) has Runicorn; install it with `python -m pip install runicorn` in one")
                }
                t = Terminal.now()
                var body: [(String, JSON)] = [("connection_id", .string(id)), ("env_name", .string(envName!)), ("auto_open", .bool(false))]
                if let root { body.append(("remote_root", .string(root))) }
                if let localPort { body.append(("local_port", .int(localPort))) }
                let started = try session.check(session.api.post("/api/remote/viewer/start", .object(body)))
                url = started["viewer"]?["url"]?.string
                Terminal.progress("viewer started in \(envName!)", since: t)
            }
            guard let url else { throw CLIError.api(code: "bad_answer", message: "the viewer has no URL") }
            if !noBrowser { DesktopBrowser.open(url) }
            if options.json {
                printJSON(.object([("connection_id", .string(id)), ("env_name", .optional(envName)), ("url", .string(url)),
                                   ("reused_connection", .bool(reusedConnection)), ("reused_viewer", .bool(reusedViewer))]))
            } else {
                print(url)
            }
        }
    }
}

/// `rviewer ls`: connections, their viewers and forwards.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List connections, viewers and forwards.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        try runClient {
            let session = try options.session()
            let connections = try session.check(session.api.get("/api/remote/connections"))["connections"]?.array ?? []
            let forwards = try session.check(session.api.get("/api/remote/forwards"))["forwards"]?.array ?? []
            if options.json { return printJSON(.object([("connections", .array(connections)), ("forwards", .array(forwards))])) }
            if connections.isEmpty { return Terminal.note("no connections; `rviewer open HOST` makes one") }
            for c in connections {
                let id = c["connection_id"]?.string ?? "?"
                let login = "\(c["username"]?.string.map { $0 + "@" } ?? "")\(c["host"]?.string ?? "?"):\(c["port"]?.int ?? 22)"
                let state = c["reconnecting"]?.bool == true ? "reconnecting" : (c["status"]?.string ?? "?")
                var line = "\(id)  \(login)  \(state)"
                if let viewer = c["viewer"], viewer != .null {
                    line += "  viewer \(viewer["status"]?.string ?? "?")"
                    if let url = viewer["url"]?.string, !url.isEmpty { line += " \(url)" }
                }
                print(line)
                for f in forwards where f["connection_id"]?.string == id {
                    print("    \(f["url"]?.string ?? "?") -> \(f["remote_host"]?.string ?? "?"):\(f["remote_port"]?.int ?? 0)  (\(f["forward_id"]?.string ?? "?"))")
                }
            }
        }
    }
}

/// `rviewer envs HOST`: the Python environments on HOST.
struct Envs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List HOST's Python environments (connects if needed).")
    @Argument(help: "[user@]host[:port] or an ~/.ssh/config alias.") var host: String
    @Flag(help: "Detect again instead of using the last detection.") var refresh = false
    @OptionGroup var login: LoginOptions
    @OptionGroup var options: ClientOptions

    func run() throws {
        try runClient {
            let session = try options.session()
            let (id, _) = try session.connection(try Destination(host), login: login)
            if refresh { _ = try session.check(session.api.post("/api/remote/environments/detect", .object([("connection_id", .string(id))]))) }
            let envs = try session.check(session.api.get("/api/remote/environments?connection_id=\(queryValue(id))"))["environments"]?.array ?? []
            if options.json { return printJSON(.array(envs)) }
            for e in envs {
                let runicorn = e["runicorn_installed"]?.bool == true ? "runicorn \(e["runicorn_version"]?.string ?? "?")" : "-"
                print("\(e["name"]?.string ?? "?")\t\(e["type"]?.string ?? "?")\tpython \(e["python_version"]?.string ?? "?")\t\(runicorn)\t\(e["storage_root"]?.string ?? "-")")
            }
        }
    }
}
