/// Why an SSH operation failed, typed so the API can answer with the spec's codes.
public enum SSHError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The request itself is unusable (missing key file, unreadable key, bad alias).
    case invalidParameters(String)
    /// The server refused the credentials; `method` is key, password or agent.
    case authenticationFailed(method: String, message: String)
    /// The server's host key differs from the recorded one.
    case hostKeyMismatch(HostKeyFacts)
    /// No recorded key, and the policy is strict: the user must accept this one first.
    case hostKeyUnknown(HostKeyFacts)
    /// The login waits, half done, for the user's answers to these prompts.
    case secondFactorRequired(SSHChallenge)
    /// A phase did not finish in time (`phase` names it: connect, handshake, auth, command).
    case timeout(phase: String)
    /// Refused, unreachable, resolution failure, protocol errors.
    case connectionFailed(String)
    /// The session is gone (peer closed, network failure, disconnect).
    case disconnected(String)
    /// A libssh2 call failed; code and libssh2's own message.
    case libssh2(call: String, code: Int32, message: String)
    /// `error` happened at the jump host `hop` ("host:port") on the way to the target.
    indirect case jumpHost(hop: String, error: SSHError)

    /// The error itself, through any jump hosts that carried it (for its status).
    public var underlying: SSHError {
        if case .jumpHost(_, let inner) = self { return inner.underlying }
        return self
    }

    /// This error as seen from the session routed through `hop`: named once, by the
    /// hop nearest to where it happened.
    public func at(jumpHost hop: String) -> SSHError {
        if case .jumpHost = self { return self }
        return .jumpHost(hop: hop, error: self)
    }

    public var description: String {
        switch self {
        case .invalidParameters(let m): return m
        case .authenticationFailed(let method, let m): return "SSH authentication failed (\(method)): \(m)"
        case .hostKeyMismatch(let k):
            return "Host key for \(KnownHosts.hostSpec(k.host, k.port)) changed: server offers \(k.fingerprint), recorded "
                + "\(k.expected ?? "a key whose entry could not be read"). If the server was reinstalled, check the new "
                + "fingerprint, then DELETE /api/remote/known-hosts?host=\(k.host)&port=\(k.port) and connect again."
        case .hostKeyUnknown(let k):
            return "Host \(KnownHosts.hostSpec(k.host, k.port)) is not known (host_key_policy strict): it offers \(k.keyType) "
                + "\(k.fingerprint). Check it, then connect again with accept_host_key set to it."
        case .secondFactorRequired(let c):
            return "The server asks for more than the password (\(c.prompts.map(\.text).joined(separator: " / "))): "
                + "answer with POST /api/remote/connect/respond within \(c.expiresInSeconds) s"
        case .timeout(let phase): return "SSH \(phase) timed out"
        case .connectionFailed(let m): return "SSH connection failed: \(m)"
        case .disconnected(let m): return "SSH connection lost: \(m)"
        case .libssh2(let call, let code, let m): return "\(call) failed: \(m) (libssh2 error \(code))"
        case .jumpHost(let hop, let error): return "jump host \(hop): \(error.description)"
        }
    }
}

/// What the daemon knows of a host key it refused (decisions.md, "Host keys": the
/// `host_key` object of 403 `host_key_mismatch`).
public struct HostKeyFacts: Equatable, Sendable {
    public var host: String
    public var port: Int
    /// OpenSSH's name of the key type ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa").
    public var keyType: String
    /// The key the server offers, SHA256 as OpenSSH prints it.
    public var fingerprint: String
    /// The recorded key's, when its entry could be read.
    public var expected: String?

    public init(host: String, port: Int, keyType: String, fingerprint: String, expected: String?) {
        self.host = host
        self.port = port
        self.keyType = keyType
        self.fingerprint = fingerprint
        self.expected = expected
    }
}
