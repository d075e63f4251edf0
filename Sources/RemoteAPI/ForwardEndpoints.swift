import Remote
import SSH

extension RemoteAPI {
    /// Generic forwards (beyond the spec): what users of `ssh -L` and VS Code expect.
    public func addForwardEndpoints(registry: ConnectionRegistry) {
        add("POST", "/api/remote/forwards") { [unowned self] call in
            let p = try call.body()
            let id = try p.string("connection_id")
            let remoteHost = try p.optionalString("remote_host") ?? "127.0.0.1"
            try RemoteAPI.checkHostName(remoteHost, field: "remote_host")
            guard let remotePort = try p.optionalInt("remote_port", range: 1...65535) else {
                throw APIError.invalidParameters("Missing required field 'remote_port'")
            }
            let localPort = try p.optionalInt("local_port", range: 1...65535)
            let ahead = try p.optionalInt("channels_ahead", range: RemoteAPI.channelsAheadRange) ?? 0
            guard let connection = registry.connection(id) else { throw APIError.connectionNotFound(id) }
            do {
                let f = try registry.openForward(connection, remoteHost: remoteHost, remotePort: remotePort, localPort: localPort,
                                                 channelsAhead: ahead)
                self.log("forward \(f.id): localhost:\(f.localPort) -> \(remoteHost):\(remotePort) via \(id)")
                call.succeed([("forward_id", .string(f.id)), ("local_port", .int(f.localPort)), ("url", .string(f.url))])
            } catch let error as SSHError {
                throw APIError(error)
            }
        }

        add("GET", "/api/remote/forwards") { call in
            let filter = try call.query().optionalString("connection_id")
            let list = registry.allForwards.filter { filter == nil || $0.connectionID == filter }
            call.succeed([("forwards", .array(list.map(RemoteAPI.json))), ("total", .int(list.count))])
        }

        add("DELETE", "/api/remote/forwards/{id}") { [unowned self] call in
            let id = call.pathParameters["id"]!
            guard registry.closeForward(id) else {
                throw APIError(status: 404, code: "forward_not_found", message: "No forward with id '\(id)'")
            }
            self.log("forward \(id) closed")
            call.succeed([("message", .string("Forward closed")), ("forward_id", .string(id))])
        }
    }

    static func json(_ f: Forward) -> JSON {
        .object([
            ("forward_id", .string(f.id)),
            ("connection_id", .string(f.connectionID)),
            ("local_port", .int(f.localPort)),
            ("remote_host", .string(f.remoteHost)),
            ("remote_port", .int(f.remotePort)),
            ("url", .string(f.url)),
            ("bytes_up", .number(Double(f.counters.bytesUp))),
            ("bytes_down", .number(Double(f.counters.bytesDown))),
            ("clients_active", .int(f.counters.activeClients)),
            ("clients_total", .int(f.counters.totalClients)),
            ("ssh_sessions", .int(f.sshSessions)),
            ("channels_ahead", .int(f.channelsAhead)),
        ])
    }

    /// `channels_ahead` of a forward: 0..16 (decisions.md "Forwards"); a browser opens 6
    /// connections per host at once, the viewer's tunnel keeps 6 ahead.
    static let channelsAheadRange = 0...16
}
