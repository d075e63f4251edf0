import SSH

/// A connect request as the API received it, before ~/.ssh/config and defaults apply.
public struct ConnectRequest: Sendable {
    public enum Auth: String, Sendable { case key, password, agent }

    public var host: String
    public var port: Int?
    public var username: String?
    public var auth: Auth
    public var privateKeyPath: String?
    public var password: String?
    public var passphrase: String?
    /// Seconds for resolve + connect + handshake + authentication; nil: the alias's
    /// ConnectTimeout, else the spec's default 30.
    public var timeoutSeconds: Int?
    /// Jump hosts in `ssh -J` syntax, or "none" (decisions.md, "Reaching servers").
    public var proxyJump: String?
    /// The target's host key fingerprint the user accepted ("SHA256:...").
    public var acceptHostKey: String?

    public init(host: String, port: Int?, username: String?, auth: Auth, privateKeyPath: String?,
                password: String?, passphrase: String?, timeoutSeconds: Int?, proxyJump: String? = nil) {
        self.proxyJump = proxyJump
        self.host = host
        self.port = port
        self.username = username
        self.auth = auth
        self.privateKeyPath = privateKeyPath
        self.password = password
        self.passphrase = passphrase
        self.timeoutSeconds = timeoutSeconds
    }
}

/// Where the daemon finds the user's SSH setup.
public struct SSHEnvironment: Sendable {
    public var home: String
    /// Parsed ~/.ssh/config, if there is one.
    public var config: SSHConfigFile?
    /// SSH_AUTH_SOCK of the daemon's environment.
    public var agentSocket: String?

    public init(home: String, config: SSHConfigFile?, agentSocket: String?) {
        self.home = home
        self.config = config
        self.agentSocket = agentSocket
    }

    /// `~` and `~/...` against the user's home.
    public func expand(_ path: String) -> String {
        if path == "~" { return home }
        if path.hasPrefix("~/") { return home + path.dropFirst() }
        return path
    }

    /// The session target: request fields first, then the ~/.ssh/config alias, then defaults.
    /// Throws `invalidParameters` naming what is missing.
    public func target(for request: ConnectRequest) throws -> SSHSession.Target {
        let alias = config?.resolve(request.host, home: home)
        guard let username = request.username ?? alias?.user else {
            throw SSHError.invalidParameters("Missing required field 'username'")
        }
        let auth: SSHAuthMethod
        switch request.auth {
        case .key:
            guard let path = request.privateKeyPath ?? alias?.identityFile else {
                throw SSHError.invalidParameters("Missing required field 'private_key_path' (required when auth_method is 'key')")
            }
            let expanded = expand(path)
            try KeyFile.checkReadable(expanded)
            auth = .key(path: expanded, passphrase: request.passphrase)
        case .password:
            guard let password = request.password else {
                throw SSHError.invalidParameters("Missing required field 'password' (required when auth_method is 'password')")
            }
            auth = .password(password)
        case .agent:
            guard let socket = agentSocket, !socket.isEmpty else {
                throw SSHError.invalidParameters("auth_method 'agent' needs an SSH agent: the daemon has no SSH_AUTH_SOCK")
            }
            // IdentitiesOnly with an IdentityFile: just that key's identity (its .pub names it).
            let only = alias?.identitiesOnly == true ? alias?.identityFile.flatMap { KeyFile.publicKeyBlob(ofFileAt: expand($0) + ".pub") } : nil
            auth = .agent(socket: socket, only: only)
        }
        return SSHSession.Target(host: alias?.hostName ?? request.host, port: request.port ?? alias?.port ?? 22,
                                 username: username, auth: auth,
                                 timeoutMs: (request.timeoutSeconds ?? alias?.connectTimeout ?? Self.defaultTimeoutSeconds) * 1000,
                                 serverAlive: alias.flatMap(Self.serverAlive), acceptHostKey: request.acceptHostKey)
    }

    /// The spec's connect timeout.
    public static let defaultTimeoutSeconds = 30

    /// ServerAliveInterval (0: off, as in ssh) with ServerAliveCountMax (ssh's default 3).
    static func serverAlive(_ alias: SSHConfigFile.Resolved) -> (interval: Int, countMax: Int)? {
        guard let interval = alias.serverAliveInterval, interval > 0 else { return nil }
        return (interval, alias.serverAliveCountMax ?? 3)
    }
}
