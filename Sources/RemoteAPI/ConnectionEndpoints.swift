import Reactor
import Remote
import SSH

extension RemoteAPI {
    /// Connection Management and Health Checks (remote_api.md).
    public func addConnectionEndpoints(registry: ConnectionRegistry) {
        add("POST", "/api/remote/connect") { [unowned self] call in
            let p = try call.body()
            guard let auth = ConnectRequest.Auth(rawValue: try p.optionalChoice("auth_method", ["key", "password", "agent"])
                ?? { throw APIError.invalidParameters("Missing required field 'auth_method'") }()) else {
                throw APIError.invalidParameters("Field 'auth_method' must be one of 'key', 'password', 'agent'")
            }
            var request = ConnectRequest(
                host: try p.string("host"),
                port: try p.optionalInt("port", range: 1...65535),
                username: try p.optionalString("username"),
                auth: auth,
                privateKeyPath: try p.optionalString("private_key_path"),
                password: try p.optionalString("password"),
                passphrase: try p.optionalString("passphrase"),
                timeoutSeconds: try p.optionalInt("timeout", range: 1...600),
                proxyJump: try p.optionalString("proxy_jump"))
            request.acceptHostKey = try p.optionalString("accept_host_key")
            if let accept = request.acceptHostKey, !accept.hasPrefix("SHA256:") || accept.count < 8 || accept.contains(" ") {
                throw APIError.invalidParameters("Field 'accept_host_key' must be a fingerprint as OpenSSH prints it ('SHA256:...')")
            }
            try RemoteAPI.checkHostName(request.host)
            if let jump = request.proxyJump, jump != "none" {
                switch JumpSpec.parseList(jump) {
                case .success(let hops): for hop in hops { try RemoteAPI.checkHostName(hop.host, field: "proxy_jump") }
                case .failure(let error): throw APIError(error)
                }
            }
            let what = "connect \(request.username ?? "?")@\(request.host):\(request.port.map(String.init) ?? "-") auth=\(auth.rawValue)"
            registry.connect(request) { [weak self] result in self?.answerLogin(call, what, result) }
        }

        add("POST", "/api/remote/connect/respond") { [unowned self] call in
            let p = try call.body()
            let id = try p.string("challenge_id")
            let responses = try p.strings("responses")   // secrets: never logged or echoed
            let answer = registry.respond(challenge: id, responses: responses) { [weak self] result in
                self?.answerLogin(call, "respond \(id)", result)
            }
            switch answer {
            case .accepted: break
            case .notFound:
                throw APIError(status: 404, code: "challenge_not_found", message: "No waiting login with challenge id '\(id)' (unknown, expired or already answered)")
            case .wrongCount(let n):
                throw APIError.invalidParameters("Field 'responses' must hold \(n) response(s), one per prompt")
            }
        }

        add("DELETE", "/api/remote/connections/{id}") { [unowned self] call in
            let id = call.pathParameters["id"]!
            let cleanup = try call.query().optionalBool("cleanup_viewer") ?? true
            guard let connection = registry.connection(id) else { throw APIError.connectionNotFound(id) }
            let finish = {
                registry.disconnect(id)
                self.log("disconnect \(id)")
                call.succeed([("message", .string("Connection disconnected successfully")), ("connection_id", .string(id))])
            }
            // cleanup_viewer: stop the viewer rviewer started before the session goes.
            if cleanup, connection.viewer?.machine.isActive == true, connection.status == .connected {
                registry.stopViewer(connection, cleanup: true) { _ in finish() }
            } else {
                finish()
            }
        }

        add("GET", "/api/remote/ping") { call in
            let connection = try RemoteAPI.connection(call, registry)
            registry.ping(connection) { result in
                switch result {
                case .success(let ms):
                    call.succeed([("latency_ms", .number((ms * 1000).rounded() / 1000)), ("timestamp", .string(Timestamp.now()))])
                case .failure(let error):
                    call.fail(APIError(error))
                }
            }
        }

        add("GET", "/api/remote/health") { call in
            let connection = try RemoteAPI.connection(call, registry)
            registry.health(connection) { report in
                call.succeed([
                    ("health", .string(report.health)),
                    ("checks", .object([
                        ("ssh_connection", .string(report.sshConnection.rawValue)),
                        ("viewer_process", .string(report.viewerProcess.rawValue)),
                        ("tunnel_active", .string(report.tunnelActive.rawValue)),
                    ])),
                ])
            }
        }
    }

    /// The answer to a connect or a respond: the connection, or the error (a second factor
    /// asked for is 401 with its challenge).
    func answerLogin(_ call: Call, _ what: String, _ result: Result<Connection, SSHError>) {
        switch result {
        case .success(let c):
            log("\(what): \(c.id)")
            call.succeed([
                ("connection_id", .string(c.id)),
                ("host", .string(c.host)),
                ("port", .int(c.port)),
                ("username", .string(c.username)),
                ("status", .string(c.status.name)),
                ("server_info", RemoteAPI.serverInfo(c)),
                ("created_at", .string(c.createdAt)),
                ("via", .array(c.via.map { .string($0) })),
            ])
        case .failure(let error):
            log("\(what) failed: \(error)")
            call.fail(APIError(error))
        }
    }

    static func serverInfo(_ c: Connection) -> JSON {
        .object([
            ("hostname", .optional(c.serverInfo.hostname)),
            ("os", .optional(c.serverInfo.os)),
            ("python_version", .optional(c.serverInfo.pythonVersion)),
        ])
    }

    /// The connection named by the `connection_id` query parameter.
    static func connection(_ call: Call, _ registry: ConnectionRegistry) throws -> Connection {
        let id = try call.query().string("connection_id")
        guard let connection = registry.connection(id) else { throw APIError.connectionNotFound(id) }
        return connection
    }

    /// Host names and addresses only: no whitespace, control characters or a leading '-'
    /// (which a later `ssh` invocation could take for an option).
    static func checkHostName(_ host: String, field: String = "host") throws {
        guard host.utf8.count <= 253, !host.hasPrefix("-"),
              host.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else {
            throw APIError.invalidParameters("Field '\(field)' is not a valid host name or address")
        }
    }
}

extension ConnectionSummary {
    init(_ c: Connection) {
        let viewer = c.viewer.map { (status: $0.status, url: $0.url ?? "") }
        var reason: JSON = .null
        if case .disconnected(let why) = c.status { reason = .string(why) }
        self.init(connectionID: c.id, host: c.host, status: c.status.name, reconnecting: c.reconnect.isTrying, viewer: viewer,
                  via: c.via, details: [("port", .int(c.port)), ("username", .string(c.username)),
                                        ("server_info", RemoteAPI.serverInfo(c)), ("created_at", .string(c.createdAt)),
                                        ("disconnect_reason", reason)])
    }
}

extension ConnectionRegistry {
    /// The entries of `GET /api/remote/connections`.
    public var summaries: [ConnectionSummary] { all.map(ConnectionSummary.init) }
}
