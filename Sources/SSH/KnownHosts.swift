import CLibSSH2
import Glibc
import Reactor

/// Host-key trust: trust on first use, recorded in the daemon's own known_hosts; the
/// user's ~/.ssh/known_hosts is honoured read-only; a changed key is refused.
public struct KnownHosts: Sendable {
    /// The daemon's own file (read and written).
    public let ownFile: String
    /// The user's file (read only); may not exist.
    public let userFile: String?

    /// What an unknown host gets (config `host_key_policy`).
    public enum Policy: String, Sendable {
        /// Trust on first use: recorded at once.
        case acceptNew = "accept-new"
        /// Refused (403 host_key_unknown) until accepted with `accept_host_key`.
        case strict
    }
    public let policy: Policy

    public init(ownFile: String, userFile: String?, policy: Policy = .acceptNew) {
        self.ownFile = ownFile
        self.userFile = userFile
        self.policy = policy
    }

    public enum Verdict: Equatable {
        case trusted
        /// First contact: recorded in the own file.
        case recorded
        /// The server offers another key than the recorded one.
        case mismatch(HostKeyFacts)
        /// No entry, and the policy is strict (`expected` is nil).
        case unknown(HostKeyFacts)
    }

    /// The name known_hosts uses: `host` on port 22, else `[host]:port`.
    static func hostSpec(_ host: String, _ port: Int) -> String { port == 22 ? host : "[\(host)]:\(port)" }

    /// The host-key algorithms to ask for, from the key type already recorded for this
    /// host (notes pitfall 13: otherwise libssh2 1.10 picks ECDSA and a host known by its
    /// ed25519 key looks new). nil when nothing is recorded.
    func pinnedMethods(host: String, port: Int) -> String? {
        let spec = KnownHosts.hostSpec(host, port)
        for file in [ownFile, userFile].compactMap({ $0 }) {
            guard let kh = load(file, session: nil) else { continue }
            defer { libssh2_knownhost_free(kh.handle) }
            var prev: UnsafeMutablePointer<libssh2_knownhost>?
            var entry: UnsafeMutablePointer<libssh2_knownhost>?
            while libssh2_knownhost_get(kh.handle, &entry, prev) == 0, let e = entry {
                if let name = e.pointee.name, String(cString: name) == spec,
                   let methods = KnownHosts.methods(forKeyBit: cssh2_knownhost_entry_keybit(e)) {
                    return methods
                }
                prev = e
            }
        }
        return nil
    }

    /// OpenSSH's name of a key type, from libssh2's key-type bits.
    static func keyTypeName(forKeyBit bit: Int32) -> String {
        switch bit {
        case LIBSSH2_KNOWNHOST_KEY_ED25519: return "ssh-ed25519"
        case LIBSSH2_KNOWNHOST_KEY_ECDSA_256: return "ecdsa-sha2-nistp256"
        case LIBSSH2_KNOWNHOST_KEY_ECDSA_384: return "ecdsa-sha2-nistp384"
        case LIBSSH2_KNOWNHOST_KEY_ECDSA_521: return "ecdsa-sha2-nistp521"
        case LIBSSH2_KNOWNHOST_KEY_SSHRSA: return "ssh-rsa"
        case LIBSSH2_KNOWNHOST_KEY_SSHDSS: return "ssh-dss"
        default: return "unknown"
        }
    }

    static func methods(forKeyBit bit: Int32) -> String? {
        switch bit {
        case LIBSSH2_KNOWNHOST_KEY_ED25519: return "ssh-ed25519"
        case LIBSSH2_KNOWNHOST_KEY_ECDSA_256: return "ecdsa-sha2-nistp256"
        case LIBSSH2_KNOWNHOST_KEY_ECDSA_384: return "ecdsa-sha2-nistp384"
        case LIBSSH2_KNOWNHOST_KEY_ECDSA_521: return "ecdsa-sha2-nistp521"
        // libssh2 drops the names it does not know (1.10 knows only ssh-rsa).
        case LIBSSH2_KNOWNHOST_KEY_SSHRSA: return "rsa-sha2-512,rsa-sha2-256,ssh-rsa"
        default: return nil
        }
    }

    /// The server key's SHA256 fingerprint, written as OpenSSH writes it.
    static func fingerprint(_ session: OpaquePointer) -> String {
        guard let raw = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) else { return "SHA256:?" }
        let bytes = (0..<32).map { UInt8(bitPattern: raw[$0]) }
        return "SHA256:" + Base64.encode(bytes, padding: false)
    }

    /// The SHA256 fingerprint of a key blob given in base64 (a known_hosts entry's key).
    static func fingerprint(base64Key: String) -> String? {
        guard let blob = Base64.decode(base64Key), !blob.isEmpty else { return nil }
        var digest = [UInt8](repeating: 0, count: 32)
        guard cssh2_sha256(blob, blob.count, &digest) == 1 else { return nil }
        return "SHA256:" + Base64.encode(digest, padding: false)
    }

    /// Checks the session's host key; records it on first contact.
    /// Checks the session's host key. The daemon's own file decides first (a key
    /// accepted through the API stands over a stale line of the user's file), then the
    /// user's. `accept`: the fingerprint the user accepted for this connect; a key
    /// presenting exactly it is trusted and recorded, replacing the daemon's entry.
    func verify(session: OpaquePointer, host: String, port: Int, accept: String? = nil) throws -> Verdict {
        var len = 0
        var type: Int32 = 0
        guard let key = libssh2_session_hostkey(session, &len, &type) else {
            throw SSHError.connectionFailed("the server sent no host key")
        }
        let bit = cssh2_knownhost_keybit(type)
        let checkPort = Int32(port == 22 ? -1 : port)
        let presented = KnownHosts.fingerprint(session)
        let facts = { (expected: String?) in
            HostKeyFacts(host: host, port: port, keyType: KnownHosts.keyTypeName(forKeyBit: bit), fingerprint: presented, expected: expected)
        }
        for file in [ownFile, userFile].compactMap({ $0 }) {
            guard let kh = load(file, session: session) else { continue }
            defer { libssh2_knownhost_free(kh.handle) }
            var recorded: UnsafePointer<CChar>?
            switch cssh2_knownhost_checkp(kh.handle, host, checkPort, key, len, bit, &recorded) {
            case LIBSSH2_KNOWNHOST_CHECK_MATCH: return .trusted
            case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
                guard accept == presented else {
                    return .mismatch(facts(recorded.flatMap { KnownHosts.fingerprint(base64Key: String(cString: $0)) }))
                }
                _ = try? forget(host: host, port: port)   // accepted: the new key replaces rviewer's entry
                try record(session: session, key: key, len: len, bit: bit, host: host, port: port)
                return .recorded
            default: break
            }
        }
        guard policy == .acceptNew || accept == presented else { return .unknown(facts(nil)) }
        try record(session: session, key: key, len: len, bit: bit, host: host, port: port)
        return .recorded
    }

    /// Appends the key's line to the daemon's file, replacing the file atomically.
    private func record(session: OpaquePointer, key: UnsafePointer<CChar>, len: Int, bit: Int32, host: String, port: Int) throws {
        guard let kh = libssh2_knownhost_init(session) else { throw SSHError.connectionFailed("cannot initialise known hosts") }
        defer { libssh2_knownhost_free(kh) }
        var buf = [CChar](repeating: 0, count: 16384)
        var n = 0
        guard cssh2_knownhost_line(kh, KnownHosts.hostSpec(host, port), key, len, bit, "added by rviewer \(Timestamp.now())",
                                   &buf, buf.count, &n) == 0 else {
            throw SSHError.connectionFailed("cannot write the host key line for \(host)")
        }
        var text = FileContents.read(ownFile).map { String(decoding: $0, as: UTF8.self) } ?? ""
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        text += String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do { try FileContents.replace(ownFile, with: text, mode: 0o600) } catch {
            throw SSHError.connectionFailed("cannot record the host key in \(ownFile): \(error)")
        }
    }

    /// Reads a known_hosts file into a libssh2 collection; nil when it does not exist.
    private func load(_ path: String, session: OpaquePointer?) -> (handle: OpaquePointer, count: Int32)? {
        guard access(path, R_OK) == 0 else { return nil }
        guard let handle = libssh2_knownhost_init(session ?? KnownHosts.scratchSession) else { return nil }
        let n = cssh2_knownhost_readfile(handle, path)
        return (handle, max(n, 0))
    }

    /// libssh2_knownhost_init needs a session only for error reporting; one idle
    /// session serves the lookups made before a connection has its own.
    nonisolated(unsafe) private static let scratchSession: OpaquePointer = {
        LibSSH2.initialize()
        return cssh2_session_init(nil)!
    }()
}

/// libssh2's process-wide setup ("not thread-safe": called on the loop thread).
public enum LibSSH2 {
    nonisolated(unsafe) private static var initialized = false

    public static func initialize() {
        guard !initialized else { return }
        initialized = true
        let rc = libssh2_init(0)
        precondition(rc == 0, "libssh2_init failed: \(rc)")
    }

    public static var version: String { String(cString: cssh2_version()) }
}
