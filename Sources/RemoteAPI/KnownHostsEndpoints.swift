import Remote
import SSH

extension RemoteAPI {
    /// Host-key decisions (decisions.md, "Host keys"): what is trusted, and forgetting the
    /// daemon's entry for a server that was reinstalled.
    public func addKnownHostsEndpoints(registry: ConnectionRegistry) {
        add("GET", "/api/remote/known-hosts") { call in
            let entries = registry.knownHosts.entries()
            call.succeed([("hosts", .array(entries.map(Self.json))), ("total", .int(entries.count))])
        }
        add("DELETE", "/api/remote/known-hosts") { [unowned self] call in
            let q = try call.query()
            let host = try q.string("host")
            let port = try q.optionalInt("port", range: 1...65535) ?? 22
            try RemoteAPI.checkHostName(host)
            let removed: Int
            do { removed = try registry.knownHosts.forget(host: host, port: port) } catch {
                throw APIError.internalError("cannot rewrite rviewer's known_hosts: \(error)")
            }
            guard removed > 0 else {
                throw APIError(status: 404, code: "host_key_not_found",
                               message: "rviewer's known_hosts has no entry for \(host) port \(port)")
            }
            self.log("known-hosts: forgot \(host):\(port)")
            call.succeed([("message", .string("Host key forgotten; the next connection records the key it is offered")),
                          ("host", .string(host)), ("port", .int(port))])
        }
    }

    static func json(_ e: KnownHostEntry) -> JSON {
        .object([
            ("host", .string(e.host)),
            ("port", e.port.map { .int($0) } ?? .null),
            ("key_type", .string(e.keyType)),
            ("fingerprint_sha256", .string(e.fingerprint)),
            ("source", .string(e.source.rawValue)),
            ("added_at", .optional(e.addedAt)),
        ])
    }
}
