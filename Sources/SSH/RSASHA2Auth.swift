import CLibSSH2
import CSSHKeys
import Glibc

/// Which signatures an RSA user key is offered with, from the server's banner. libssh2
/// 1.10 signs RSA with SHA-1 ("ssh-rsa") only, which OpenSSH refuses since 8.8;
/// rviewer signs rsa-sha2-512 itself (CSSHKeys). OpenSSH knows rsa-sha2 since 7.2 and
/// refuses ssh-rsa by default since 8.8. Each refused offer costs one of the server's
/// MaxAuthTries, so an offer the banner rules out is not made.
public enum RSASignaturePolicy {
    /// (major, minor) of "SSH-2.0-OpenSSH_9.2p1 Debian-2"; nil for other servers.
    public static func openSSHVersion(banner: String) -> (Int, Int)? {
        guard let range = banner.firstRange(of: "OpenSSH_") else { return nil }
        let digits = banner[range.upperBound...].prefix { $0.isNumber || $0 == "." }.split(separator: ".")
        guard digits.count >= 2, let major = Int(digits[0]), let minor = Int(digits[1]) else { return nil }
        return (major, minor)
    }

    /// Offer rsa-sha2-512: everything but an OpenSSH older than 7.2.
    public static func offersSHA2(banner: String) -> Bool {
        guard let v = openSSHVersion(banner: banner) else { return true }
        return v >= (7, 2)
    }

    /// Offer ssh-rsa after a refused rsa-sha2-512: not to OpenSSH 8.8 and later (they
    /// refuse SHA-1 unless told otherwise); to older ones (one configured to take only
    /// ssh-rsa) and to other servers.
    public static func offersSHA1AfterSHA2(banner: String) -> Bool {
        guard let v = openSSHVersion(banner: banner) else { return true }
        return v < (8, 8)
    }

    static func banner(_ session: OpaquePointer) -> String {
        libssh2_session_banner_get(session).map { String(cString: $0) } ?? ""
    }
}

/// An RSA key file loaded for rsa-sha2-512 signing, kept across the non-blocking calls of
/// one authentication and freed after it.
final class RSAKeyFileAuth {
    private var key: OpaquePointer?
    /// The key went out with an rsa-sha2-512 signature (the server answered it).
    private(set) var offeredSHA2 = false

    enum LoadFailure: Error {
        /// The message for the user (401): never the passphrase or key material.
        case refused(String)
        /// A format this code does not read: libssh2's own loader may still take it.
        case unsupported
    }

    func load(path: String, passphrase: String?) -> Result<Void, LoadFailure> {
        if key != nil { return .success(()) }
        var error: Int32 = 0
        let loaded = passphrase.map { p in p.withCString { rv_rsa_key_load(path, $0, &error) } } ?? rv_rsa_key_load(path, nil, &error)
        if let loaded { key = loaded; return .success(()) }
        switch Int(error) {
        case Int(RV_KEY_NEEDS_PASSPHRASE):
            return .failure(.refused("cannot load the private key \(path): it is encrypted (give its passphrase)"))
        case Int(RV_KEY_WRONG_PASSPHRASE):
            return .failure(.refused("cannot load the private key \(path): wrong passphrase"))
        case Int(RV_KEY_UNREADABLE):
            return .failure(.refused("cannot read the private key \(path)"))
        default:
            return .failure(.unsupported)
        }
    }

    /// One non-blocking step of the publickey request; libssh2's return code.
    func authenticate(session: OpaquePointer, user: String) -> Int32 {
        var signFailed: Int32 = 0
        let rc = user.withCString { rv_userauth_rsa_sha2(UnsafeMutableRawPointer(session), $0, key, nil, nil, 0, &signFailed) }
        if rc != LIBSSH2_ERROR_EAGAIN { offeredSHA2 = true }
        return rc
    }

    /// Frees the key (after its attempt; `offeredSHA2` stays for the step after it).
    func close() {
        if let key { rv_rsa_key_free(key) }
        key = nil
    }

    deinit { close() }
}

extension AgentAuth {
    /// Offers RSA identity `index` with an rsa-sha2-512 signature made by the agent.
    /// `signFailed`: the agent would not sign so (too old for the SHA-2 flag).
    func authenticateRSASHA2(_ index: Int, session: OpaquePointer, user: String, socket: String) -> (rc: Int32, signFailed: Bool) {
        guard let id = identity(index) else { return (LIBSSH2_ERROR_AGENT_PROTOCOL, false) }
        var len = 0
        guard let blob = cssh2_agent_identity_blob(id, &len) else { return (LIBSSH2_ERROR_AGENT_PROTOCOL, false) }
        var signFailed: Int32 = 0
        let rc = user.withCString { u in
            socket.withCString { s in
                blob.withMemoryRebound(to: UInt8.self, capacity: len) {
                    rv_userauth_rsa_sha2(UnsafeMutableRawPointer(session), u, nil, s, $0, len, &signFailed)
                }
            }
        }
        return (rc, signFailed != 0)
    }
}
