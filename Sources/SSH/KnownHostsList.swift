import Glibc
import Reactor

/// The host keys rviewer trusts, as `GET /api/remote/known-hosts` lists them, and the
/// removal of the daemon's own entry for a host (decisions.md, "Host keys"). Lines are
/// read as OpenSSH writes them: `names keytype base64 [comment]`, names comma-separated,
/// `[host]:port` for other ports, hashed names (`|1|salt|hash`) shown as they are with no
/// port; `@cert-authority` / `@revoked` lines and comments are not host keys here.
public struct KnownHostEntry: Equatable, Sendable {
    public enum Source: String, Sendable { case rviewer, user }

    public var host: String
    /// nil for a hashed name (its port is inside the hash).
    public var port: Int?
    public var keyType: String
    public var fingerprint: String
    public var source: Source
    /// When rviewer recorded it (from its comment); nil for the user's file.
    public var addedAt: String?
}

extension KnownHosts {
    /// The entries of the daemon's file, then the user's.
    public func entries() -> [KnownHostEntry] {
        var list: [KnownHostEntry] = []
        for (file, source) in [(ownFile as String?, KnownHostEntry.Source.rviewer), (userFile, .user)] {
            guard let file, let bytes = FileContents.read(file) else { continue }
            for line in String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
                list += Self.parse(Substring(line), source: source)
            }
        }
        return list
    }

    static func parse(_ line: Substring, source: KnownHostEntry.Source) -> [KnownHostEntry] {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 3, !fields[0].hasPrefix("#"), !fields[0].hasPrefix("@"),
              let fingerprint = fingerprint(base64Key: String(fields[2])) else { return [] }
        let added = source == .rviewer ? fields.dropFirst(3).last.map(String.init).flatMap { $0.hasSuffix("Z") && $0.count == 20 ? $0 : nil } : nil
        return fields[0].split(separator: ",").map { name in
            let (host, port) = hostAndPort(String(name))
            return KnownHostEntry(host: host, port: port, keyType: String(fields[1]), fingerprint: fingerprint,
                                  source: source, addedAt: added)
        }
    }

    /// "[h]:2222" -> ("h", 2222); "h" -> ("h", 22); a hashed name -> (name, nil).
    static func hostAndPort(_ name: String) -> (String, Int?) {
        if name.hasPrefix("|") { return (name, nil) }
        if name.hasPrefix("["), let close = name.firstIndex(of: "]") {
            let host = String(name[name.index(after: name.startIndex)..<close])
            let rest = name[name.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) : 22)
        }
        return (name, 22)
    }

    /// Removes the daemon's entries for `host` and `port` (the whole line when it names
    /// nothing else), replacing the file atomically; how many were removed. The user's
    /// file is never written.
    public func forget(host: String, port: Int) throws -> Int {
        guard let bytes = FileContents.read(ownFile) else { return 0 }
        let spec = KnownHosts.hostSpec(host, port)
        var removed = 0
        var kept: [String] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            let fields = line.split(separator: " ", maxSplits: 1)
            guard fields.count == 2, !line.hasPrefix("#"), !line.hasPrefix("@") else { kept.append(String(line)); continue }
            let names = fields[0].split(separator: ",").map(String.init)
            let others = names.filter { $0 != spec }
            removed += names.count - others.count
            if others.isEmpty { continue }
            kept.append(others.count == names.count ? String(line) : others.joined(separator: ",") + " " + fields[1])
        }
        if removed > 0 { try FileContents.replace(ownFile, with: kept.joined(separator: "\n"), mode: 0o600) }
        return removed
    }
}
