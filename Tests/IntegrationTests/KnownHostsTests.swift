import Foundation
import Glibc
import XCTest

/// Host-key decisions through the API against a real sshd: the list of trusted keys
/// (rviewer's own file and the user's, read-only, hashed entries included), the
/// `host_key` object of a refused changed key, and forgetting an entry to accept the new
/// key of a reinstalled server.
final class KnownHostsTests: XCTestCase {
    private var sshd: SSHDFixture!
    private var daemon: DaemonProcess!

    override func setUpWithError() throws {
        sshd = try SSHDFixture()
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
    }

    override func tearDown() {
        daemon = nil
        sshd = nil
    }

    private func connect() throws -> RawClient.Response {
        try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
                                                                  "auth_method": "key", "private_key_path": sshd.ed25519Key])
    }

    private func hosts() throws -> [[String: Any]] {
        let r = try daemon.request("GET", "/api/remote/known-hosts")
        XCTAssertEqual(r.status, 200, r.text)
        let list = try XCTUnwrap(r.json?["hosts"] as? [[String: Any]])
        XCTAssertEqual(r.json?["total"] as? Int, list.count)
        return list
    }

    func testListChangedKeyForgetAndAcceptTheNewOne() throws {
        // The user's own known_hosts: one plain entry and one hashed (ssh-keygen -H).
        let userFile = sshd.home.appendingPathComponent(".ssh/known_hosts").path
        let hostPub = try String(contentsOfFile: sshd.hostKey + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try "gpu.example.org \(hostPub)\n[hashed.example.org]:2200 \(hostPub)\n".write(toFile: userFile, atomically: true, encoding: .utf8)
        _ = try SSHDFixture.run("/usr/bin/ssh-keygen", ["-H", "-F", "[hashed.example.org]:2200", "-f", userFile])  // proves ssh reads it
        try SSHDFixture.run("/usr/bin/ssh-keygen", ["-H", "-f", userFile])   // hashes every name in place
        let userBefore = try String(contentsOfFile: userFile, encoding: .utf8)
        XCTAssertTrue(userBefore.hasPrefix("|1|"), userBefore)

        XCTAssertEqual(try connect().status, 200)
        let recorded = try sshd.hostKeyFingerprint()
        let list = try hosts()
        let own = list.filter { $0["source"] as? String == "rviewer" }
        XCTAssertEqual(own.count, 1, "\(list)")
        XCTAssertEqual(own.first?["host"] as? String, "127.0.0.1")
        XCTAssertEqual(own.first?["port"] as? Int, sshd.port)
        XCTAssertEqual(own.first?["key_type"] as? String, "ssh-ed25519")
        XCTAssertEqual(own.first?["fingerprint_sha256"] as? String, recorded)
        XCTAssertNotNil(own.first?["added_at"] as? String, "rviewer records when it trusted the key")
        let user = list.filter { $0["source"] as? String == "user" }
        XCTAssertEqual(user.count, 2, "both of the user's entries, hashed ones included")
        XCTAssertTrue(user.allSatisfy { ($0["host"] as? String ?? "").hasPrefix("|1|") && $0["port"] is NSNull && $0["added_at"] is NSNull })
        XCTAssertTrue(user.allSatisfy { $0["fingerprint_sha256"] as? String == recorded })

        // The server is reinstalled: 403 with the host_key object naming both keys.
        try sshd.restartWithNewHostKey()
        let offered = try sshd.hostKeyFingerprint()
        let refused = try connect()
        XCTAssertEqual(refused.status, 403, refused.text)
        XCTAssertEqual(refused.json?["error"] as? String, "host_key_mismatch")
        let key = try XCTUnwrap(refused.json?["host_key"] as? [String: Any], refused.text)
        XCTAssertEqual(key["host"] as? String, "127.0.0.1")
        XCTAssertEqual(key["port"] as? Int, sshd.port)
        XCTAssertEqual(key["key_type"] as? String, "ssh-ed25519")
        XCTAssertEqual(key["fingerprint_sha256"] as? String, offered)
        XCTAssertEqual(key["expected_fingerprint_sha256"] as? String, recorded)

        // The user checked the fingerprint: forget the old key; the next connect records the new one.
        let forget = try daemon.request("DELETE", "/api/remote/known-hosts?host=127.0.0.1&port=\(sshd.port)")
        XCTAssertEqual(forget.status, 200, forget.text)
        XCTAssertEqual(try connect().status, 200)
        XCTAssertEqual(try hosts().first { $0["source"] as? String == "rviewer" }?["fingerprint_sha256"] as? String, offered)
        XCTAssertEqual(try String(contentsOfFile: userFile, encoding: .utf8), userBefore, "the user's file is never written")

        // Errors: no entry, bad input.
        let none = try daemon.request("DELETE", "/api/remote/known-hosts?host=nowhere.example&port=22")
        XCTAssertEqual(none.status, 404, none.text)
        XCTAssertEqual(none.json?["error"] as? String, "host_key_not_found")
        XCTAssertEqual(try daemon.request("DELETE", "/api/remote/known-hosts?port=22").json?["error"] as? String, "invalid_parameters")
        XCTAssertEqual(try daemon.request("DELETE", "/api/remote/known-hosts?host=h&port=99999").status, 400)
        XCTAssertEqual(try daemon.request("DELETE", "/api/remote/known-hosts?host=-oX&port=22").status, 400)
    }

    func testAcceptHostKeyReplacesAChangedKeyOnlyWhenItMatches() throws {
        XCTAssertEqual(try connect().status, 200)
        let recorded = try sshd.hostKeyFingerprint()
        try sshd.restartWithNewHostKey()
        let offered = try sshd.hostKeyFingerprint()
        let wrong = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
                                                                              "auth_method": "key", "private_key_path": sshd.ed25519Key,
                                                                              "accept_host_key": recorded])
        XCTAssertEqual(wrong.status, 403, "accepting another key than the one offered changes nothing: \(wrong.text)")
        XCTAssertEqual(wrong.json?["error"] as? String, "host_key_mismatch")
        let accepted = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
                                                                                 "auth_method": "key", "private_key_path": sshd.ed25519Key,
                                                                                 "accept_host_key": offered])
        XCTAssertEqual(accepted.status, 200, accepted.text)
        let own = try hosts().filter { $0["source"] as? String == "rviewer" }
        XCTAssertEqual(own.map { $0["fingerprint_sha256"] as? String }, [offered], "the new key replaced the old one")
        XCTAssertEqual(try connect().status, 200, "and is trusted from now on")
        let bad = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
                                                                            "auth_method": "key", "private_key_path": sshd.ed25519Key,
                                                                            "accept_host_key": "MD5:aa:bb"])
        XCTAssertEqual(bad.status, 400, bad.text)
    }

    func testStrictPolicyAsksBeforeTrustingANewHost() throws {
        daemon = try DaemonProcess(settings: ["host_key_policy": "\"strict\""], environment: ["HOME": sshd.home.path])
        let unknown = try connect()
        XCTAssertEqual(unknown.status, 403, unknown.text)
        XCTAssertEqual(unknown.json?["error"] as? String, "host_key_unknown")
        let key = try XCTUnwrap(unknown.json?["host_key"] as? [String: Any], unknown.text)
        let offered = try sshd.hostKeyFingerprint()
        XCTAssertEqual(key["fingerprint_sha256"] as? String, offered)
        XCTAssertTrue(key["expected_fingerprint_sha256"] is NSNull)
        XCTAssertEqual(try hosts().count, 0, "nothing was recorded")
        XCTAssertEqual(sshd.log.components(separatedBy: "Accepted publickey").count - 1, 0, "no login happened")
        let accepted = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
                                                                                 "auth_method": "key", "private_key_path": sshd.ed25519Key,
                                                                                 "accept_host_key": offered])
        XCTAssertEqual(accepted.status, 200, accepted.text)
        XCTAssertEqual(try connect().status, 200, "known from now on")
    }

    /// The console shows a new host's key in a dialog; Cancel connects nothing, Trust connects.
    func testConsoleAsksAboutANewHostsKey() throws {
        daemon = try DaemonProcess(settings: ["host_key_policy": "\"strict\""], environment: ["HOME": sshd.home.path])
        let output = try BrowserScript.run("console_login.py", daemon: daemon, environment: [
            "RV_MODE": "host-key", "RV_SSH_PORT": "\(sshd.port)", "RV_USER": sshd.user, "RV_KEY": sshd.ed25519Key,
            "RV_FINGERPRINT": try sshd.hostKeyFingerprint()])
        XCTAssertEqual(output.status, 0, output.text)
        XCTAssertTrue(output.text.contains("LOGIN DIALOG OK"), output.text)
        XCTAssertEqual(try hosts().count, 1, "trusted once, recorded")
    }
}
