import Glibc
import SSH

/// How a connect request reaches its server (decisions.md, "Reaching servers"): the
/// request's `proxy_jump`, else the alias's ProxyJump or ProxyCommand from
/// `~/.ssh/config`; `"none"` in either turns it off.
public enum RoutePlan: Sendable {
    case direct
    /// Jump hosts, nearest first, each a session target of its own.
    case jump([SSHSession.Target])
    /// A ProxyCommand line, tokens expanded.
    case command(String)
}

/// One hop of `ssh -J` syntax: `[user@]host[:port]`, host possibly `[v6 address]`.
public struct JumpSpec: Equatable, Sendable {
    public var user: String?
    public var host: String
    public var port: Int?

    /// Parses `hop[,hop...]`; a failure names the malformed hop.
    public static func parseList(_ text: String) -> Result<[JumpSpec], SSHError> {
        var hops: [JumpSpec] = []
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(raw.filter { $0 != " " && $0 != "\t" })
            guard let hop = parse(item) else {
                return .failure(.invalidParameters("Field 'proxy_jump': '\(item)' is not [user@]host[:port]"))
            }
            hops.append(hop)
        }
        return .success(hops)
    }

    /// One `[user@]host[:port]` (IPv6 in brackets); nil when malformed.
    public static func parse(_ item: String) -> JumpSpec? {
        var rest = Substring(item)
        var user: String?
        if let at = rest.lastIndex(of: "@") {
            user = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
            guard !(user ?? "").isEmpty else { return nil }
        }
        var host = rest, port: Int?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else { return nil }
                port = p
            }
        } else if let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            guard let p = Int(rest[rest.index(after: colon)...]) else { return nil }
            port = p
        }
        if let port, !(1...65535).contains(port) { return nil }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
        return JumpSpec(user: user, host: String(host), port: port)
    }
}

extension SSHEnvironment {
    /// The route for `request`, whose own target is `target`. Each jump host logs in
    /// with its alias's IdentityFile, else the agent.
    public func routePlan(for request: ConnectRequest, target: SSHSession.Target) throws -> RoutePlan {
        let alias = config?.resolve(request.host, home: home)
        let jump = request.proxyJump ?? alias?.proxyJump
        if let jump, jump != "none" {
            let hops = try JumpSpec.parseList(jump).get()
            return .jump(try hops.map { try hopTarget($0, timeoutMs: target.timeoutMs) })
        }
        if request.proxyJump == nil, let command = alias?.proxyCommand, command != "none" {
            return .command(Self.expandTokens(command, host: target.host, port: target.port, user: target.username))
        }
        return .direct
    }

    func hopTarget(_ hop: JumpSpec, timeoutMs: Int) throws -> SSHSession.Target {
        let alias = config?.resolve(hop.host, home: home)
        let host = alias?.hostName ?? hop.host
        let port = hop.port ?? alias?.port ?? 22
        let label = "\(host):\(port)"
        let auth: SSHAuthMethod
        if let file = alias?.identityFile.map(expand), (try? KeyFile.checkReadable(file)) != nil {
            auth = .key(path: file, passphrase: nil)
        } else if let socket = agentSocket, !socket.isEmpty {
            auth = .agent(socket: socket)
        } else {
            throw SSHError.invalidParameters("jump host \(label): no IdentityFile for it in ~/.ssh/config and no SSH agent to log in with")
        }
        return SSHSession.Target(host: host, port: port, username: hop.user ?? alias?.user ?? Self.localUser,
                                 auth: auth, timeoutMs: alias?.connectTimeout.map { $0 * 1000 } ?? timeoutMs,
                                 serverAlive: alias.flatMap(Self.serverAlive))
    }

    /// ssh's default remote user: the local one.
    static var localUser: String {
        getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "root"
    }

    /// ProxyCommand tokens: %h host, %p port, %r user, %% a %.
    static func expandTokens(_ command: String, host: String, port: Int, user: String) -> String {
        command.expandingSSHTokens(["h": host, "p": String(port), "r": user])
    }
}
