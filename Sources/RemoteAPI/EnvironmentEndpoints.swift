import Remote
import SSH

extension RemoteAPI {
    /// Environment Detection (remote_api.md).
    public func addEnvironmentEndpoints(registry: ConnectionRegistry) {
        add("GET", "/api/remote/environments") { call in
            let q = try call.query()
            let filter = try q.optionalChoice("filter", ["all", "runicorn_only"]) ?? "all"
            let connection = try RemoteAPI.connection(call, registry)
            registry.environments(connection, force: false) { result in
                switch result {
                case .success(let detection):
                    let list = detection.environments.filter { filter == "all" || $0.runicornInstalled }
                    call.succeed([("environments", .array(list.map(RemoteAPI.json))), ("total", .int(list.count))])
                case .failure(let error):
                    call.fail(APIError(error))
                }
            }
        }

        add("POST", "/api/remote/environments/detect") { call in
            let p = try call.body()
            let id = try p.string("connection_id")
            _ = try p.optionalBool("force_refresh")   // detection always runs anew (decisions.md)
            guard let connection = registry.connection(id) else { throw APIError.connectionNotFound(id) }
            registry.environments(connection, force: true) { result in
                switch result {
                case .success(let detection):
                    call.succeed([("message", .string("Environments detected successfully")),
                                  ("environments_found", .int(detection.environments.count))])
                case .failure(let error):
                    call.fail(APIError(error))
                }
            }
        }

        add("GET", "/api/remote/config") { call in
            let name = try call.query().string("env_name")
            let connection = try RemoteAPI.connection(call, registry)
            registry.environments(connection, force: false) { result in
                switch result {
                case .success(let detection):
                    guard let env = detection.environment(named: name) else {
                        return call.fail(.environmentNotFound(name))
                    }
                    call.succeed([
                        ("config", .object([
                            ("user_root_dir", .optional(detection.runicornDir ?? detection.userRootDir)),
                            ("viewer_port", .int(detection.viewerPort)),
                        ])),
                        ("runicorn_version", .optional(env.runicornVersion)),
                    ])
                case .failure(let error):
                    call.fail(APIError(error))
                }
            }
        }
    }

    static func json(_ e: RemoteEnvironment) -> JSON {
        .object([
            ("name", .string(e.name)),
            ("type", .string(e.type.rawValue)),
            ("python_version", .optional(e.pythonVersion)),
            ("runicorn_installed", .bool(e.runicornInstalled)),
            ("runicorn_version", .optional(e.runicornVersion)),
            ("storage_root", .optional(e.storageRoot)),
            ("python_path", .string(e.pythonPath)),
            ("path", .string(e.path)),
        ])
    }
}

extension APIError {
    public static func environmentNotFound(_ name: String) -> APIError {
        // The name is echoed JSON-escaped only; it never reaches a shell.
        APIError(status: 404, code: "environment_not_found", message: "No detected environment named '\(name)'")
    }
}
