import Remote
import SSH

extension APIError {
    init(_ error: ViewerError) {
        switch error {
        case .ssh(let e): self = APIError(e)
        case .environmentNotFound(let name): self = .environmentNotFound(name)
        case .notInstalled(let command):
            self = APIError(status: 400, code: "runicorn_not_installed",
                            message: "Runicorn is not installed in this environment; install it with: \(command)")
        case .alreadyRunning:
            self = APIError(status: 409, code: "viewer_already_running", message: "A viewer is already starting or running on this connection")
        case .startFailed(let reason):
            self = APIError(status: 500, code: "viewer_start_failed", message: "Remote Viewer failed to start: \(reason)")
        }
    }
}

extension RemoteAPI {
    /// Remote Viewer Management (remote_api.md).
    public func addViewerEndpoints(registry: ConnectionRegistry, openURL: @escaping (String) -> Void) {
        add("POST", "/api/remote/viewer/start") { [unowned self] call in
            let p = try call.body()
            let id = try p.string("connection_id")
            let envName = try p.string("env_name")
            let remoteRoot = try p.optionalString("remote_root")
            let autoOpen = try p.optionalBool("auto_open") ?? true
            let localPort = try p.optionalInt("local_port", range: 1...65535)
            guard let connection = registry.connection(id) else { throw APIError.connectionNotFound(id) }
            registry.startViewer(connection, envName: envName, remoteRoot: remoteRoot, localPort: localPort) { result in
                switch result {
                case .success(let v):
                    self.log("viewer \(v.id) on \(id) running at \(v.url ?? "?")")
                    if autoOpen, let url = v.url { openURL(url) }
                    call.succeed([
                        ("message", .string("Remote Viewer started successfully")),
                        ("viewer", .object([
                            ("status", .string(v.status)),
                            ("local_port", .int(v.localPort ?? 0)),
                            ("url", .optional(v.url)),
                            ("started_at", .optional(v.startedAt)),
                        ])),
                    ])
                case .failure(let error):
                    self.log("viewer start on \(id) failed: \(error)")
                    call.fail(APIError(error))
                }
            }
        }

        add("POST", "/api/remote/viewer/stop") { call in
            let p = try call.body()
            let id = try p.string("connection_id")
            let cleanup = try p.optionalBool("cleanup") ?? true
            guard let connection = registry.connection(id) else { throw APIError.connectionNotFound(id) }
            registry.stopViewer(connection, cleanup: cleanup) { result in
                switch result {
                case .success: call.succeed([("message", .string("Remote Viewer stopped successfully"))])
                case .failure(let e): call.fail(APIError(e))
                }
            }
        }

        add("GET", "/api/remote/viewer/status") { call in
            let connection = try RemoteAPI.connection(call, registry)
            guard let viewer = connection.viewer else { return call.succeed([("viewer", RemoteAPI.viewerStatus(nil, health: "unknown", now: 0))]) }
            registry.viewerChecks(connection) { checks in
                call.succeed([("viewer", RemoteAPI.viewerStatus(viewer, health: viewer.health(checks: checks), now: registry.now))])
            }
        }

        add("GET", "/api/remote/viewer/logs") { call in
            let lines = try call.query().optionalInt("lines", range: 1...10_000) ?? 100
            let connection = try RemoteAPI.connection(call, registry)
            registry.viewerLogs(connection, lines: lines) { result in
                switch result {
                case .success(let logs): call.succeed([("logs", .array(logs.map(JSON.string))), ("total_lines", .int(logs.count))])
                case .failure(let e): call.fail(APIError(e))
                }
            }
        }
    }

    /// The viewer object of `GET /viewer/status` (and of the `viewer` event); no viewer
    /// reads as stopped. Beyond the spec: `env_name`, `local_port`, `started_at`.
    static func viewerStatus(_ viewer: Viewer?, health: String, now: UInt64) -> JSON {
        guard let viewer else {
            return .object([("status", .string("stopped")), ("url", .null), ("uptime_seconds", .int(0)),
                            ("health", .string("unknown")), ("error", .null)])
        }
        return .object([
            ("status", .string(viewer.status)),
            ("url", .optional(viewer.status == "running" ? viewer.url : nil)),
            ("uptime_seconds", .int(viewer.uptimeSeconds(now: now))),
            ("health", .string(health)),
            ("error", .optional(viewer.failureReason)),
            ("env_name", .string(viewer.envName)),
            ("local_port", viewer.localPort.map(JSON.int) ?? .null),
            ("started_at", .optional(viewer.startedAt)),
        ])
    }
}
