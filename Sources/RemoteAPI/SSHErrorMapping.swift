import Remote
import SSH

extension APIError {
    /// The spec's status and code for each SSH failure.
    public init(_ error: SSHError) {
        switch error {
        case .jumpHost(_, let inner):
            // The status the same error would have on the target; the message names the hop.
            let base = APIError(inner)
            self = APIError(status: base.status, code: base.code, message: error.description)
            extra = base.extra
        case .invalidParameters(let m):
            self = .invalidParameters(m)
        case .authenticationFailed:
            self = APIError(status: 401, code: "authentication_failed", message: error.description)
        case .hostKeyMismatch(let k):
            self = APIError(status: 403, code: "host_key_mismatch", message: error.description)
            extra = ("host_key", Self.json(k))
        case .secondFactorRequired(let c):
            self = APIError(status: 401, code: "second_factor_required", message: error.description)
            extra = ("challenge", .object([
                ("challenge_id", .string(c.id)), ("name", .string(c.name)), ("instruction", .string(c.instruction)),
                ("prompts", .array(c.prompts.map { .object([("prompt", .string($0.text)), ("echo", .bool($0.echo))]) })),
                ("expires_in_seconds", .int(c.expiresInSeconds)),
            ]))
        case .hostKeyUnknown(let k):
            self = APIError(status: 403, code: "host_key_unknown", message: error.description)
            extra = ("host_key", Self.json(k))
        case .timeout:
            self = APIError(status: 408, code: "connection_timeout", message: error.description)
        case .connectionFailed, .disconnected, .libssh2:
            self = APIError(status: 500, code: "ssh_error", message: error.description)
        }
    }

    /// The `host_key` object (decisions.md, "Host keys").
    static func json(_ k: HostKeyFacts) -> JSON {
        .object([
            ("host", .string(k.host)), ("port", .int(k.port)), ("key_type", .string(k.keyType)),
            ("fingerprint_sha256", .string(k.fingerprint)), ("expected_fingerprint_sha256", .optional(k.expected)),
        ])
    }

    public static func connectionNotFound(_ id: String) -> APIError {
        APIError(status: 404, code: "connection_not_found", message: "No connection with id '\(id)'")
    }
}
