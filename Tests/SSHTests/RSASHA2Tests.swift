import CSSHKeys
import Foundation
import XCTest
@testable import SSH

/// RSA SHA-2 signing for libssh2 1.10 (CSSHKeys) without a server: the policy from
/// banners, Blowfish, and keys read from every format ssh-keygen writes, whose public
/// half must equal the `.pub` ssh-keygen wrote.
final class RSASHA2Tests: XCTestCase {
    func testPolicyFromBanner() {
        XCTAssertEqual(RSASignaturePolicy.openSSHVersion(banner: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3").map { [$0.0, $0.1] }, [9, 2])
        XCTAssertTrue(RSASignaturePolicy.offersSHA2(banner: "SSH-2.0-OpenSSH_9.2p1"))
        XCTAssertTrue(RSASignaturePolicy.offersSHA2(banner: "SSH-2.0-OpenSSH_7.2"))
        XCTAssertFalse(RSASignaturePolicy.offersSHA2(banner: "SSH-2.0-OpenSSH_7.1p2"), "rsa-sha2 came with 7.2")
        XCTAssertTrue(RSASignaturePolicy.offersSHA2(banner: "SSH-2.0-dropbear_2022.83"), "other servers: try SHA-2 first")
        XCTAssertFalse(RSASignaturePolicy.offersSHA1AfterSHA2(banner: "SSH-2.0-OpenSSH_8.8"), "8.8 refuses ssh-rsa")
        XCTAssertTrue(RSASignaturePolicy.offersSHA1AfterSHA2(banner: "SSH-2.0-OpenSSH_8.4p1"))
        XCTAssertTrue(RSASignaturePolicy.offersSHA1AfterSHA2(banner: "SSH-2.0-dropbear_2022.83"))
    }

    func testPlanOffersSHA2FirstForRSAKeyFilesOnSHA1OnlyLibssh2() {
        var m = SSHSessionStateMachine(method: .key(path: "/k", passphrase: nil), rsaSHA1Only: true, keyIsRSA: true)
        _ = m.onStart(); _ = m.onResolved(count: 1); _ = m.onConnected(); _ = m.onHandshakeDone(hostKey: .trusted, host: "h")
        XCTAssertEqual(m.onAuthMethods(["publickey"]), .authenticate(.rsaSHA2KeyFile))
        XCTAssertEqual(m.onAuthRejected(rsaKey: false), .authenticate(.publicKeyFile), "then libssh2's own, where the server may take it")
        var modern = SSHSessionStateMachine(method: .key(path: "/k", passphrase: nil), rsaSHA1Only: false, keyIsRSA: true)
        _ = modern.onStart(); _ = modern.onResolved(count: 1); _ = modern.onConnected(); _ = modern.onHandshakeDone(hostKey: .trusted, host: "h")
        XCTAssertEqual(modern.onAuthMethods(["publickey"]), .authenticate(.publicKeyFile), "libssh2 1.11 signs rsa-sha2 itself")
    }

    func testBlowfishMatchesItsPublishedVector() {
        XCTAssertEqual(rv_blowfish_selftest(), 0)
    }

    private func keygen(_ dir: URL, _ name: String, _ args: [String]) throws -> String {
        let path = dir.appendingPathComponent(name).path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        p.arguments = ["-q", "-C", name, "-f", path] + args
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "ssh-keygen \(args)")
        return path
    }

    private func loadedBlob(_ path: String, _ passphrase: String?) -> (blob: String?, error: Int32) {
        var error: Int32 = 0
        let key = passphrase.map { p in p.withCString { rv_rsa_key_load(path, $0, &error) } } ?? rv_rsa_key_load(path, nil, &error)
        guard let key else { return (nil, error) }
        defer { rv_rsa_key_free(key) }
        var blob: UnsafeMutablePointer<UInt8>?
        var len = 0
        guard rv_rsa_key_blob(key, "ssh-rsa", &blob, &len) == 0, let blob else { return (nil, -1) }
        defer { free(blob) }
        return (Data(bytes: blob, count: len).base64EncodedString(), 0)
    }

    func testEveryKeyFormatLoadsToItsPublicKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rviewer-rsa-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pass = "pass-\(UUID().uuidString.prefix(6))"
        let cases: [(String, [String], String?)] = [
            ("openssh", [], nil), ("openssh_enc", ["-N", pass], pass), ("openssh_enc_r4", ["-N", pass, "-a", "4"], pass),
            ("pem", ["-m", "PEM"], nil), ("pem_enc", ["-m", "PEM", "-N", pass], pass),
            ("pkcs8", ["-m", "PKCS8"], nil), ("pkcs8_enc", ["-m", "PKCS8", "-N", pass], pass),
        ]
        for (name, extra, passphrase) in cases {
            let args = ["-t", "rsa", "-b", "2048"] + (extra.contains("-N") ? extra : extra + ["-N", ""])
            let path = try keygen(dir, name, args)
            let pub = try String(contentsOfFile: path + ".pub", encoding: .utf8).split(separator: " ")[1]
            XCTAssertEqual(loadedBlob(path, passphrase).blob, String(pub), name)
            if passphrase != nil {
                XCTAssertEqual(loadedBlob(path, nil).error, Int32(RV_KEY_NEEDS_PASSPHRASE), name)
                XCTAssertEqual(loadedBlob(path, "wrong").error, Int32(RV_KEY_WRONG_PASSPHRASE), name)
            }
        }
        let ed = try keygen(dir, "ed", ["-t", "ed25519", "-N", ""])
        XCTAssertEqual(loadedBlob(ed, nil).error, Int32(RV_KEY_NOT_RSA))
        XCTAssertEqual(loadedBlob(dir.appendingPathComponent("absent").path, nil).error, Int32(RV_KEY_UNREADABLE))
    }
}
