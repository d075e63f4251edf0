/// The parts of ~/.ssh/config that name a server: `Host` aliases with HostName,
/// User, Port and IdentityFile, the way people already name their servers.
/// OpenSSH semantics: every matching `Host` block applies, the first value wins.
public struct SSHConfigFile: Sendable {
    public struct Resolved: Equatable, Sendable {
        public var hostName: String?
        public var user: String?
        public var port: Int?
        public var identityFile: String?
    }

    private struct Block {
        let patterns: [String]
        var settings: [(key: String, value: String)] = []
    }

    private var blocks: [Block] = []

    public init(text: String) {
        var current = Block(patterns: ["*"])   // settings before any Host apply to all
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = String(raw).trimmingCharacters(in: " \t")
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let (key, value) = SSHConfigFile.split(line)
            if key == "host" {
                blocks.append(current)
                current = Block(patterns: value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
            } else if key == "match" {
                blocks.append(current)
                current = Block(patterns: [])     // Match blocks are not supported: never apply
            } else {
                current.settings.append((key, value))
            }
        }
        blocks.append(current)
    }

    /// What the config says for `alias`; `home` expands `~` in IdentityFile.
    public func resolve(_ alias: String, home: String) -> Resolved {
        var r = Resolved()
        for block in blocks where SSHConfigFile.matches(alias, block.patterns) {
            for (key, value) in block.settings {
                switch key {
                case "hostname" where r.hostName == nil: r.hostName = value.replacingPercentH(alias)
                case "user" where r.user == nil: r.user = value
                case "port" where r.port == nil: r.port = Int(value)
                case "identityfile" where r.identityFile == nil:
                    r.identityFile = value.hasPrefix("~/") ? home + value.dropFirst() : value
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

    func replacingPercentH(_ host: String) -> String {
        var out = ""
        var it = makeIterator()
        while let c = it.next() {
            if c == "%", let n = it.next() {
                if n == "h" { out += host } else if n == "%" { out += "%" } else { out.append(c); out.append(n) }
            } else {
                out.append(c)
            }
        }
        return out
    }
}
