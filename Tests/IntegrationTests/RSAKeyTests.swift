import Foundation
import Glibc
import XCTest

/// RSA user keys against a real OpenSSH 8.8+ sshd, which refuses ssh-rsa (SHA-1)
/// signatures: every key file format ssh-keygen writes, encrypted or not, and an RSA
/// key in the agent log in with an rsa-sha2-512 signature, on libssh2 1.10 (signed by
/// rviewer) as on 1.11 (signed by libssh2).
final class RSAKeyTests: XCTestCase {
    private var sshd: SSHDFixture!
    private var daemon: DaemonProcess!

    override func setUpWithError() throws {
        sshd = try SSHDFixture()
    }

    override func tearDown() {
        daemon = nil
        sshd = nil
    }

    /// A new RSA key in `format` (PEM, PKCS8 or RFC4716 for ssh-keygen's -m; nil: its
    /// default, OpenSSH's own), authorized on the server.
    private func rsaKey(_ name: String, format: String?, passphrase: String, bits: Int = 2048) throws -> String {
        let path = sshd.dir.appendingPathComponent(name).path
        try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "rsa", "-b", "\(bits)", "-N", passphrase, "-C", name, "-f", path]
                                                   + (format.map { ["-m", $0] } ?? []))
        let pub = try String(contentsOfFile: path + ".pub", encoding: .utf8)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: sshd.dir.appendingPathComponent("authorized_keys").path))
        handle.seekToEndOfFile()
        handle.write(Data(pub.utf8))
        handle.closeFile()
        return path
    }

    private func connect(_ fields: [String: Any]) throws -> RawClient.Response {
        try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user].merging(fields) { $1 })
    }

    /// The logins sshd accepted so far.
    private var acceptedRSA: Int { sshd.log.components(separatedBy: "Accepted publickey for \(sshd.user) from 127.0.0.1").count - 1 }

    func testEveryKeyFileFormatLogsInWithSHA2() throws {
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
        let cases: [(String, String?, String)] = [
            ("rsa_pem", "PEM", ""), ("rsa_pem_enc", "PEM", "pem-pass-\(UUID().uuidString.prefix(6))"),
            ("rsa_pkcs8_enc", "PKCS8", "p8-pass-\(UUID().uuidString.prefix(6))"),
            ("rsa_openssh", nil, ""), ("rsa_openssh_enc", nil, "ossh-pass-\(UUID().uuidString.prefix(6))"),
        ]
        var passphrases: [String] = []
        for (name, format, passphrase) in cases {
            let key = try rsaKey(name, format: format, passphrase: passphrase, bits: name == "rsa_pkcs8_enc" ? 3072 : 2048)
            var fields: [String: Any] = ["auth_method": "key", "private_key_path": key]
            if !passphrase.isEmpty { fields["passphrase"] = passphrase; passphrases.append(passphrase) }
            let before = acceptedRSA
            let r = try connect(fields)
            XCTAssertEqual(r.status, 200, "\(name): \(r.text)")
            let id = try XCTUnwrap(r.json?["connection_id"] as? String, name)
            XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200, name)
            XCTAssertEqual(acceptedRSA, before + 1, "\(name): sshd accepted it")
        }
        let log = sshd.log
        XCTAssertTrue(log.contains("Accepted publickey") && log.contains(": RSA SHA256:"), "sshd names the RSA key it accepted")
        // rviewer signs rsa-sha2-512 on libssh2 1.10; libssh2 1.11 picks -256 or -512 itself.
        XCTAssertEqual(log.components(separatedBy: "publickey test pkalg rsa-sha2-").count - 1, cases.count,
                       "each key offered once, as rsa-sha2 (sshd logs the algorithm at DEBUG1)")
        XCTAssertFalse(log.contains("pkalg ssh-rsa "), "no SHA-1 signature was ever offered to this OpenSSH")
        for p in passphrases { XCTAssertFalse(daemon.stderr.contains(p), "a passphrase in the daemon's log") }
    }

    func testWrongOrMissingPassphraseIs401AndNoAttemptIsSpent() throws {
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
        let passphrase = "right-\(UUID().uuidString.prefix(6))"
        for (name, format) in [("rsa_openssh_enc", nil), ("rsa_pem_enc", "PEM")] as [(String, String?)] {
            let key = try rsaKey(name, format: format, passphrase: passphrase)
            let missing = try connect(["auth_method": "key", "private_key_path": key])
            XCTAssertEqual(missing.status, 401, missing.text)
            XCTAssertTrue((missing.json?["message"] as? String ?? "").contains("encrypted (give its passphrase)"), missing.text)
            let wrong = try connect(["auth_method": "key", "private_key_path": key, "passphrase": "not-it"])
            XCTAssertEqual(wrong.status, 401, wrong.text)
            XCTAssertTrue((wrong.json?["message"] as? String ?? "").contains("wrong passphrase"), wrong.text)
            XCTAssertFalse(wrong.text.contains("not-it"), "the passphrase is not echoed")
        }
        XCTAssertFalse(sshd.log.contains("Failed publickey"), "a key that could not be loaded was never offered")
    }

    func testRSAKeyInTheAgentLogsIn() throws {
        let key = try rsaKey("rsa_agent", format: nil, passphrase: "")
        try sshd.startAgent(keys: [key])
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path, "SSH_AUTH_SOCK": sshd.agentSocket])
        let r = try connect(["auth_method": "agent"])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(acceptedRSA, 1)
        XCTAssertTrue(sshd.log.contains("publickey test pkalg rsa-sha2-"), "offered as rsa-sha2")
        XCTAssertFalse(sshd.log.contains("pkalg ssh-rsa "), "the agent signed with SHA-2")
    }

    func testUnauthorizedRSAKeyIsRefusedWithOneAttempt() throws {
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
        let path = sshd.dir.appendingPathComponent("rsa_stranger").path
        try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", path])
        let r = try connect(["auth_method": "key", "private_key_path": path])
        XCTAssertEqual(r.status, 401, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "authentication_failed")
        XCTAssertTrue((r.json?["message"] as? String ?? "").contains("refused the key"), r.text)
        // One publickey query for the key, and no SHA-1 retry (OpenSSH 8.8+ would refuse it).
        XCTAssertEqual(sshd.log.components(separatedBy: "userauth-request for user \(sshd.user) service ssh-connection method publickey").count - 1, 1, sshd.log)
    }
}
