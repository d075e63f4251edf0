/// How to authenticate, as the API request says (`auth_method` and its field).
public enum SSHAuthMethod: Sendable {
    /// A private key file (already `~`-expanded) with an optional passphrase.
    case key(path: String, passphrase: String?)
    case password(String)
    /// The ssh-agent at `socket` (SSH_AUTH_SOCK); `only`: offer just the identity with
    /// this public key blob (ssh_config's IdentitiesOnly with an IdentityFile).
    case agent(socket: String, only: [UInt8]? = nil)

    /// The spec's name of the method, for error messages.
    public var name: String {
        switch self {
        case .key: return "key"
        case .password: return "password"
        case .agent: return "agent"
        }
    }
}

/// One attempt in the authentication sequence.
public enum SSHAuthStep: Equatable, Sendable {
    /// The key file through libssh2 (which signs RSA with SHA-1 only before 1.11).
    case publicKeyFile
    /// An RSA key file with an rsa-sha2-512 signature made by rviewer (libssh2 1.10).
    case rsaSHA2KeyFile
    case password
    /// Answer the server's keyboard-interactive prompts with the password.
    case keyboardInteractive
    /// Connect to the agent and list its identities.
    case agentConnect
    /// Offer agent identity `index`.
    case agentIdentity(Int)
}

/// Budgets of the authentication sequence.
public enum SSHAuthLimits {
    /// Agent identities offered per connection: OpenSSH's MaxAuthTries defaults to 6
    /// and every offered key counts (notes pitfall 14), so stay one below.
    public static let maxAgentIdentities = 5
}

/// What rviewer tells a user whose RSA key went out with an ssh-rsa (SHA-1) signature
/// only (libssh2 1.10, to a server that announced no rsa-sha2 support) and was refused.
public let rsaSHA1RefusedMessage =
    "the server refused the RSA key's ssh-rsa (SHA-1) signature, the only RSA signature it announced support for. "
    + "Use an ed25519 or ECDSA key, or enable rsa-sha2-256/512 on the server"
