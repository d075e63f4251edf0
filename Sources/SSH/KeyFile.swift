import Glibc

/// What the daemon may learn about a private key file without decrypting it: whether
/// it can be read, and its algorithm (the public half of an OpenSSH key is in clear).
public enum KeyFile {
    public enum Kind: Equatable, Sendable {
        case rsa, ed25519, ecdsa, dsa, unknown
    }

    /// Checks the file is a readable regular file; never returns or logs its contents.
    public static func checkReadable(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw SSHError.invalidParameters("Private key file \(path) does not exist")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw SSHError.invalidParameters("Private key path \(path) is not a regular file")
        }
        guard access(path, R_OK) == 0 else {
            throw SSHError.invalidParameters("Private key file \(path) is not readable by the daemon")
        }
    }

    /// The key algorithm, from the PEM label or the OpenSSH container's public key.
    public static func kind(ofFileAt path: String) -> Kind {
        guard let f = fopen(path, "r") else { return .unknown }
        defer { fclose(f) }
        var text = ""
        var line = [CChar](repeating: 0, count: 4096)
        var lines = 0
        while lines < 400, fgets(&line, Int32(line.count), f) != nil {
            text += String(cString: line)
            lines += 1
        }
        return kind(ofPEM: text)
    }

    static func kind(ofPEM text: String) -> Kind {
        if text.contains("BEGIN RSA PRIVATE KEY") { return .rsa }
        if text.contains("BEGIN EC PRIVATE KEY") { return .ecdsa }
        if text.contains("BEGIN DSA PRIVATE KEY") { return .dsa }
        guard text.contains("BEGIN OPENSSH PRIVATE KEY") else { return .unknown }
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let blob = Base64.decode(body) else { return .unknown }
        // "openssh-key-v1\0", then strings: cipher, kdf, kdf options; uint32 count;
        // then the first public key blob, whose first string is the key type.
        var r = BlobReader(bytes: blob)
        let magic = Array("openssh-key-v1".utf8) + [0]
        guard r.take(magic.count) == magic, r.string() != nil, r.string() != nil, r.string() != nil,
              r.uint32() != nil, let pub = r.string() else { return .unknown }
        var p = BlobReader(bytes: pub)
        guard let type = p.string() else { return .unknown }
        return kind(ofKeyType: String(decoding: type, as: UTF8.self))
    }

    /// The key blob of a one-line public key file ("type base64 comment"); nil if unreadable.
    public static func publicKeyBlob(ofFileAt path: String) -> [UInt8]? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 16384)
        guard fgets(&line, Int32(line.count), f) != nil else { return nil }
        let fields = String(cString: line).split(separator: " ")
        guard fields.count >= 2 else { return nil }
        return Base64.decode(String(fields[1]))
    }

    /// The algorithm named by an SSH public key blob (agent identities).
    public static func kind(ofPublicKeyBlob blob: [UInt8]) -> Kind {
        var r = BlobReader(bytes: blob)
        guard let type = r.string() else { return .unknown }
        return kind(ofKeyType: String(decoding: type, as: UTF8.self))
    }

    static func kind(ofKeyType type: String) -> Kind {
        if type == "ssh-rsa" { return .rsa }
        if type == "ssh-ed25519" { return .ed25519 }
        if type.hasPrefix("ecdsa-sha2-") { return .ecdsa }
        if type == "ssh-dss" { return .dsa }
        return .unknown
    }
}

/// Reads SSH wire-format fields (uint32 and length-prefixed strings).
struct BlobReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func take(_ n: Int) -> [UInt8]? {
        guard n >= 0, offset + n <= bytes.count else { return nil }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    mutating func uint32() -> UInt32? {
        guard let b = take(4) else { return nil }
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func string() -> [UInt8]? {
        guard let n = uint32(), n < 1 << 20 else { return nil }
        return take(Int(n))
    }
}

/// Standard base64 (RFC 4648), as OpenSSH writes keys and fingerprints.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8], padding: Bool = true) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(v >> UInt32(shift) & 63)]) }
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            var v = UInt32(bytes[i]) << 16
            if rest == 2 { v |= UInt32(bytes[i + 1]) << 8 }
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            if rest == 2 { out.append(alphabet[Int(v >> 6 & 63)]) }
            if padding { out.append(contentsOf: Array(repeating: UInt8(ascii: "="), count: 3 - rest)) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            if c == UInt8(ascii: "=") { break }
            if c == 10 || c == 13 || c == 32 { continue }
            guard let v = alphabet.firstIndex(of: c) else { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(acc >> UInt32(bits) & 0xFF))
            }
        }
        return out
    }
}
