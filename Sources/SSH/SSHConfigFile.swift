/// The parts of ~/.ssh/config that say how to reach a server: `Host` blocks (patterns
/// with `*`, `?` and `!`), `Match host`/`originalhost`/`all`, `Include`, and the keys
/// HostName, User, Port, IdentityFile, ProxyJump, ProxyCommand, ConnectTimeout,
/// ServerAliveInterval, ServerAliveCountMax and IdentitiesOnly.
/// OpenSSH semantics: every matching block applies, the first value wins.
public struct SSHConfigFile: Sendable {
    public struct Resolved: Equatable, Sendable {
        public var hostName: String?
        public var user: String?
        public var port: Int?
        public var identityFile: String?
        /// `ssh -J` syntax, or "none".
        public var proxyJump: String?
        /// The command line, tokens (%h %p %r %%) not yet expanded; or "none".
        public var proxyCommand: String?
        /// Seconds.
        public var connectTimeout: Int?
        public var serverAliveInterval: Int?
        public var serverAliveCountMax: Int?
        public var identitiesOnly: Bool?
    }

    private enum Condition: Sendable {
        /// `Host` patterns, against the name given.
        case host([String])
        /// `Match host` (against HostName once set, else the name given) or `originalhost`.
        case matchHost([String], original: Bool)
        case always
        /// A Match criterion this file does not evaluate (exec, user, ...): never applies.
        case never
    }

    private struct Block: Sendable {
        let condition: Condition
        var settings: [(key: String, value: String)] = []
    }

    private var blocks: [Block] = []
    /// Include depth, as OpenSSH's (readconf.c READCONF_MAX_DEPTH).
    static let maxIncludeDepth = 16

    /// `include` returns the text of each file an `Include` names (relative paths are
    /// under ~/.ssh; globs expanded by the caller); nil (the default) ignores Include.
    public init(text: String, include: ((String) -> [String])? = nil) {
        var current = Block(condition: .always)   // settings before any Host apply to all
        parse(text, into: &current, include: include, depth: 0)
        blocks.append(current)
    }

    private mutating func parse(_ text: String, into current: inout Block, include: ((String) -> [String])?, depth: Int) {
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = String(raw).trimmingCharacters(in: " \t")
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let (key, value) = SSHConfigFile.split(line)
            let words = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            switch key {
            case "host":
                blocks.append(current)
                current = Block(condition: .host(words))
            case "match":
                blocks.append(current)
                current = Block(condition: SSHConfigFile.matchCondition(words))
            case "include":
                guard let include, depth < Self.maxIncludeDepth else { continue }
                for pattern in words { for included in include(pattern) { parse(included, into: &current, include: include, depth: depth + 1) } }
            default:
                current.settings.append((key, value))
            }
        }
    }

    private static func matchCondition(_ words: [String]) -> Condition {
        guard let criterion = words.first?.lowercased() else { return .never }
        switch criterion {
        case "all": return words.count == 1 ? .always : .never
        case "host", "originalhost":
            guard words.count == 2 else { return .never }
            return .matchHost(words[1].split(separator: ",").map(String.init), original: criterion == "originalhost")
        default: return .never
        }
    }

    /// The names of `Host` lines that stand for one server (no `*`, `?` or `!`), in file
    /// order, each once (`GET /api/remote/hosts`).
    public var aliases: [String] {
        var seen = Set<String>()
        var names: [String] = []
        for block in blocks {
            guard case .host(let patterns) = block.condition else { continue }
            for p in patterns where !p.contains(where: { "*?!".contains($0) }) && seen.insert(p).inserted { names.append(p) }
        }
        return names
    }

    /// What the config says for `alias`; `home` expands `~` in IdentityFile.
    public func resolve(_ alias: String, home: String) -> Resolved {
        var r = Resolved()
        for block in blocks {
            switch block.condition {
            case .always: break
            case .never: continue
            case .host(let patterns): guard SSHConfigFile.matches(alias, patterns) else { continue }
            case .matchHost(let patterns, let original):
                guard SSHConfigFile.matches(original ? alias : (r.hostName ?? alias), patterns) else { continue }
            }
            for (key, value) in block.settings {
                switch key {
                case "hostname" where r.hostName == nil: r.hostName = value.replacingPercentH(alias)
                case "user" where r.user == nil: r.user = value
                case "port" where r.port == nil: r.port = Int(value)
                case "identityfile" where r.identityFile == nil:
                    r.identityFile = value.hasPrefix("~/") ? home + value.dropFirst() : value
                // ssh_config(5): whichever of ProxyJump and ProxyCommand comes first wins.
                case "proxyjump" where r.proxyJump == nil && r.proxyCommand == nil: r.proxyJump = value
                case "proxycommand" where r.proxyJump == nil && r.proxyCommand == nil: r.proxyCommand = value
                case "connecttimeout" where r.connectTimeout == nil: r.connectTimeout = Int(value).flatMap { $0 > 0 ? $0 : nil }
                case "serveraliveinterval" where r.serverAliveInterval == nil: r.serverAliveInterval = Int(value).flatMap { $0 >= 0 ? $0 : nil }
                case "serveralivecountmax" where r.serverAliveCountMax == nil: r.serverAliveCountMax = Int(value).flatMap { $0 > 0 ? $0 : nil }
                case "identitiesonly" where r.identitiesOnly == nil: r.identitiesOnly = value.lowercased() == "yes"
                default: break
                }
            }
        }
        return r
    }

    static func matches(_ host: String, _ patterns: [String]) -> Bool {
        var matched = false
        for p in patterns {
            if p.hasPrefix("!") {
                if glob(String(p.dropFirst()), host) { return false }
            } else if glob(p, host) {
                matched = true
            }
        }
        return matched
    }

    /// `*` and `?` wildcards, as ssh_config(5) patterns.
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.lowercased().utf8), t = Array(text.lowercased().utf8)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == UInt8(ascii: "?") || p[pi] == t[ti] {
                pi += 1; ti += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi; mark = ti; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    private static func split(_ line: String) -> (String, String) {
        var key = "", rest = Substring(line)
        if let i = line.firstIndex(where: { $0 == " " || $0 == "\t" || $0 == "=" }) {
            key = String(line[..<i])
            rest = line[i...].drop(while: { $0 == " " || $0 == "\t" || $0 == "=" })
        } else {
            key = line
            rest = ""
        }
        var value = String(rest).trimmingCharacters(in: " \t")
        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
        return (key.lowercased(), value)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }

    func replacingPercentH(_ host: String) -> String { expandingSSHTokens(["h": host]) }

    /// ssh_config(5) TOKENS: `%x` becomes `tokens[x]`, `%%` a `%`; an unknown token and a
    /// trailing `%` stay as they are.
    public func expandingSSHTokens(_ tokens: [Character: String]) -> String {
        var out = ""
        var it = makeIterator()
        while let c = it.next() {
            guard c == "%", let n = it.next() else { out.append(c); continue }
            if n == "%" { out += "%" } else if let value = tokens[n] { out += value } else { out.append(c); out.append(n) }
        }
        return out
    }
}
