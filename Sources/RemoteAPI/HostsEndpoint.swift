import Remote
import SSH

extension RemoteAPI {
    /// `GET /api/remote/hosts` (decisions.md, "Front door"): the servers `~/.ssh/config`
    /// names, as ssh would resolve each alias; unknown values are null.
    public func addHostsEndpoint(environment: SSHEnvironment) {
        add("GET", "/api/remote/hosts") { call in
            let config = environment.config
            let hosts: [JSON] = (config?.aliases ?? []).map { alias in
                let r = config!.resolve(alias, home: environment.home)
                return .object([
                    ("alias", .string(alias)),
                    ("hostname", .optional(r.hostName)),
                    ("user", .optional(r.user)),
                    ("port", r.port.map { .int($0) } ?? .null),
                    ("identity_file", .optional(r.identityFile)),
                    ("proxy_jump", .optional(r.proxyJump)),
                ])
            }
            call.succeed([("hosts", .array(hosts)), ("total", .int(hosts.count))])
        }
    }
}
