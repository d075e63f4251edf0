import ArgumentParser
import Glibc
import Remote
import RemoteAPI

/// Options every client command takes.
struct ClientOptions: ParsableArguments {
    /// The daemon's default address (its default listen address and port).
    static let defaultAPI = "http://127.0.0.1:23300"

    @Option(help: "The daemon's API (default \(ClientOptions.defaultAPI), or $RVIEWER_API).")
    var api: String?

    @Flag(help: "Print the result as JSON on stdout.")
    var json = false

    /// The API calls of a command, against the daemon these options name.
    func session() throws -> ClientSession {
        ClientSession(api: try APIClient(api ?? getenv("RVIEWER_API").map { String(cString: $0) } ?? Self.defaultAPI))
    }
}

/// How a command that may connect logs in (decisions.md, "CLI").
struct LoginOptions: ParsableArguments {
    @Option(name: [.customShort("i"), .customLong("key")], help: "Private key file to log in with.")
    var key: String?

    @Flag(help: "Log in with a password, asked on the terminal (never taken from the command line).")
    var password = false

    @Option(name: [.customShort("J"), .customLong("jump")], help: "Jump hosts, as ssh -J ([user@]host[:port],...).")
    var jump: String?
}

/// A destination as the user typed it: `[user@]host[:port]` or an ~/.ssh/config alias.
struct Destination {
    let text: String
    let spec: JumpSpec

    init(_ text: String) throws {
        guard let spec = JumpSpec.parse(text) else { throw CLIError.usage("'\(text)' is not [user@]host[:port] or an alias") }
        self.text = text
        self.spec = spec
    }

    /// A connected entry of `GET /connections` to this destination.
    func matches(_ entry: JSON) -> Bool {
        entry["host"]?.string == spec.host && entry["status"]?.string == "connected"
            && (spec.port == nil || entry["port"]?.int == spec.port)
            && (spec.user == nil || entry["username"]?.string == spec.user)
    }
}

/// Runs a client command: its failures go to stderr as `rviewer: message` with the
/// exit status of their kind.
func runClient(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as CLIError {
        fputs("rviewer: \(e)\n", stderr)
        throw ExitCode(e.exitCode)
    } catch let e as APIClient.Unreachable {
        fputs("rviewer: \(e)\n", stderr)
        throw ExitCode(CLIError.unreachable("").exitCode)
    }
}

/// The API calls the client commands share.
struct ClientSession {
    let api: APIClient

    func check(_ answer: APIClient.Answer) throws -> JSON {
        guard answer.ok else { throw CLIError(answer) }
        return answer.body
    }

    /// The connected connection to `destination`, if the daemon holds one.
    func existing(_ destination: Destination) throws -> String? {
        let list = try check(api.get("/api/remote/connections"))
        return list["connections"]?.array.first(where: destination.matches)?["connection_id"]?.string
    }

    /// The connection to `destination`; none is an error that names the next command.
    func required(_ destination: Destination) throws -> String {
        guard let id = try existing(destination) else {
            throw CLIError.api(code: "connection_not_found", message: "rviewer holds no connection to \(destination.text); run `rviewer open \(destination.text)`")
        }
        return id
    }

    /// Reuses the connection to `destination` or logs in: a password or second factor is
    /// asked on the terminal; a host key not trusted yet is shown and asked about.
    /// Returns the connection id and whether it was reused.
    func connection(_ destination: Destination, login: LoginOptions) throws -> (id: String, reused: Bool) {
        if let id = try existing(destination) { return (id, true) }
        var body: [(String, JSON)] = [("host", .string(destination.spec.host))]
        if let port = destination.spec.port { body.append(("port", .int(port))) }
        if let user = destination.spec.user { body.append(("username", .string(user))) }
        if let jump = login.jump { body.append(("proxy_jump", .string(jump))) }
        if login.password {
            let who = "\(destination.spec.user.map { $0 + "@" } ?? "")\(destination.spec.host)"
            body.append(("auth_method", .string("password")))
            body.append(("password", .string(try Terminal.ask("\(who)'s password: ", secret: true))))
        } else if let key = login.key {
            body += [("auth_method", .string("key")), ("private_key_path", .string(key))]
        } else if getenv("SSH_AUTH_SOCK") != nil {
            body.append(("auth_method", .string("agent")))
        } else {
            body.append(("auth_method", .string("key")))   // the alias's IdentityFile, or the default keys
        }
        var answer = try api.post("/api/remote/connect", .object(body))
        while !answer.ok {
            switch answer.error {
            case "second_factor_required":
                answer = try respond(to: answer.body["challenge"] ?? .null)
            case "host_key_unknown", "host_key_mismatch":
                let fingerprint = try decideHostKey(answer)
                answer = try api.post("/api/remote/connect", .object(body + [("accept_host_key", .string(fingerprint))]))
            default:
                throw CLIError(answer)
            }
        }
        guard let id = answer.body["connection_id"]?.string else { throw CLIError.api(code: "bad_answer", message: "no connection_id in the answer") }
        return (id, false)
    }

    /// One round of keyboard-interactive prompts, answered on the terminal.
    private func respond(to challenge: JSON) throws -> APIClient.Answer {
        guard let id = challenge["challenge_id"]?.string else { throw CLIError.api(code: "bad_answer", message: "a challenge without an id") }
        for field in ["name", "instruction"] {
            if let text = challenge[field]?.string, !text.isEmpty { Terminal.note(text) }
        }
        var responses: [JSON] = []
        for prompt in challenge["prompts"]?.array ?? [] {
            let text = prompt["prompt"]?.string ?? "Response: "
            responses.append(.string(try Terminal.ask(text, secret: prompt["echo"]?.bool != true)))
        }
        return try api.post("/api/remote/connect/respond", .object([("challenge_id", .string(id)), ("responses", .array(responses))]))
    }

    /// Shows the host key the server presents and asks whether to trust it.
    private func decideHostKey(_ answer: APIClient.Answer) throws -> String {
        let key = answer.body["host_key"] ?? .null
        guard let presented = key["fingerprint_sha256"]?.string else { throw CLIError(answer) }
        Terminal.note(answer.message)
        Terminal.note("  presented now: \(key["key_type"]?.string ?? "") \(presented)")
        if let before = key["expected_fingerprint_sha256"]?.string { Terminal.note("  trusted before: \(before)") }
        guard Terminal.stdinIsTerminal else { throw CLIError(answer) }
        let reply = try Terminal.ask("Trust \(presented) and connect? [y/N] ", secret: false)
        guard reply.lowercased().hasPrefix("y") else { throw CLIError.cancelled("host key not trusted") }
        return presented
    }
}

/// Writes `value` as one line of JSON on stdout.
func printJSON(_ value: JSON) {
    print(String(decoding: value.encoded(), as: UTF8.self))
}

/// Percent-encodes a query value.
func queryValue(_ s: String) -> String {
    var out = ""
    for byte in s.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            out.append(Character(UnicodeScalar(byte)))
        default:
            out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
        }
    }
    return out
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
