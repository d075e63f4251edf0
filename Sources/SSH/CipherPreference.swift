import CFastCTR
import CLibSSH2

/// Which cipher this side offers first. SSH picks the first cipher in the client's list
/// that the server also has, so the order is ours to choose.
///
/// libssh2 1.11.1 lists chacha20-poly1305 first, then AES-GCM, then AES-CTR; 1.10 has
/// no AEAD ciphers and lists AES-CTR first. Measured through one tunnel on the
/// benchmark machine (AES-NI, libssh2 1.11.1, iperf3 both ways, `make bench`):
/// aes128-ctr 273/251 MB/s, chacha20-poly1305 224/221, aes128-gcm 177/158. libssh2
/// feeds AES-GCM to OpenSSL one block at a time, and AES-CTR gets the keystream cache
/// (Sources/CFastCTR). So on a CPU with AES instructions the CTR modes go first; the
/// rest keep libssh2's order, so a server without them still finds a common cipher.
/// Without AES instructions libssh2's own order stands (chacha20 is the faster one
/// in software).
enum CipherPreference {
    /// The CTR modes, in the order offered (smallest key first: the fastest, and what
    /// libssh2 1.10 offers first anyway).
    static let ctrModes = ["aes128-ctr", "aes192-ctr", "aes256-ctr"]

    /// `supported` reordered with the CTR modes first, or nil when libssh2's order
    /// should stand (no AES instructions, no CTR mode, or CTR already first).
    static func ordered(supported: [String], aesInstructions: Bool) -> [String]? {
        guard aesInstructions else { return nil }
        let head = ctrModes.filter(supported.contains)
        guard !head.isEmpty, !supported.starts(with: head) else { return nil }
        return head + supported.filter { !head.contains($0) }
    }

    /// Sets the order on a new session, before its handshake; both directions.
    static func apply(to session: OpaquePointer) {
        guard let list = ordered(supported: supported(session), aesInstructions: rv_cpu_has_aes() != 0) else { return }
        let joined = list.joined(separator: ",")
        _ = libssh2_session_method_pref(session, LIBSSH2_METHOD_CRYPT_CS, joined)
        _ = libssh2_session_method_pref(session, LIBSSH2_METHOD_CRYPT_SC, joined)
    }

    /// The ciphers this libssh2 build has, in its own order of preference.
    private static func supported(_ session: OpaquePointer) -> [String] {
        var algs: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        let n = libssh2_session_supported_algs(session, LIBSSH2_METHOD_CRYPT_CS, &algs)
        guard n > 0, let algs else { return [] }
        defer { libssh2_free(session, algs) }
        return (0..<Int(n)).compactMap { algs[$0].map { String(cString: $0) } }
    }
}
