import Foundation
import Glibc
import XCTest

/// Second factors against a real OpenSSH sshd whose PAM stack asks the password, then a
/// TOTP code (Debian's libpam-oath); the stack is bound over /etc/pam.d/sshd in the sshd's
/// own mount namespace only. The connect answers 401 second_factor_required with the
/// prompt; /connect/respond goes on with the same half-done login.
final class SecondFactorTests: XCTestCase {
    private var sshd: SSHDFixture!
    private var daemon: DaemonProcess!
    private var secret = ""
    private var password = ""
    private var usedCodes: [String] = []
    private var oathDir: URL?

    override func setUpWithError() throws {
        try XCTSkipUnless(getuid() == 0, "needs root: the login user, and a private mount namespace for the PAM stack")
        secret = (0..<20).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rviewer-oath-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        oathDir = dir
        let users = dir.appendingPathComponent("users.oath").path
        try "HOTP/T30/6 \(SSHDFixture.passwordUser) - \(secret)\n".write(toFile: users, atomically: true, encoding: .utf8)
        chmod(users, 0o600)
        let pam = """
            auth required pam_unix.so
            auth required pam_oath.so usersfile=\(users) window=10 digits=6
            account required pam_unix.so
            session required pam_unix.so

            """
        sshd = try SSHDFixture(extraConfig: ["KbdInteractiveAuthentication yes", "PasswordAuthentication no",
                                             "AuthenticationMethods keyboard-interactive"], pam: pam)
        password = try XCTUnwrap(sshd.password)
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
    }

    override func tearDown() {
        daemon = nil
        sshd = nil
        if let oathDir { try? FileManager.default.removeItem(at: oathDir) }
    }

    /// The TOTP code `steps` 30-second steps from now (pam_oath refuses a code twice, so
    /// each login of a test takes a later step, within its window).
    private func code(steps: Int) throws -> String {
        let c = try SSHDFixture.run("/usr/bin/oathtool", ["--totp", "-d", "6", "--now", "\(steps * 30) seconds", secret])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        usedCodes.append(c)
        return c
    }

    private func connect() throws -> RawClient.Response {
        try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": SSHDFixture.passwordUser,
                                                                  "auth_method": "password", "password": password])
    }

    private func challenge(_ r: RawClient.Response) throws -> [String: Any] {
        XCTAssertEqual(r.status, 401, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "second_factor_required", r.text)
        return try XCTUnwrap(r.json?["challenge"] as? [String: Any], r.text)
    }

    private func respond(_ id: String, _ responses: [String]) throws -> RawClient.Response {
        try daemon.request("POST", "/api/remote/connect/respond", json: ["challenge_id": id, "responses": responses])
    }

    func testPasswordThenCodeConnects() throws {
        let c = try challenge(try connect())
        let id = try XCTUnwrap(c["challenge_id"] as? String)
        XCTAssertTrue(id.hasPrefix("chl_") && id.count == 12, id)
        XCTAssertEqual(c["expires_in_seconds"] as? Int, 120)
        let prompts = try XCTUnwrap(c["prompts"] as? [[String: Any]])
        XCTAssertEqual(prompts.count, 1, "the password prompt was answered by the daemon; only the code is asked")
        XCTAssertTrue((prompts.first?["prompt"] as? String ?? "").contains("One-time password"), "\(prompts)")
        XCTAssertEqual(prompts.first?["echo"] as? Bool, false)
        let r = try respond(id, [try code(steps: 0)])
        XCTAssertEqual(r.status, 200, r.text)
        let conn = try XCTUnwrap(r.json?["connection_id"] as? String)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(conn)").status, 200)
        // The challenge is spent.
        XCTAssertEqual(try respond(id, [try code(steps: 1)]).json?["error"] as? String, "challenge_not_found")
        // Secrets are never logged.
        for secret in usedCodes + [password] { XCTAssertFalse(daemon.stderr.contains(secret), "a secret in the daemon's log") }
    }

    func testWrongCodeUnknownChallengeAndWrongCount() throws {
        let c = try challenge(try connect())
        let id = try XCTUnwrap(c["challenge_id"] as? String)
        let count = try respond(id, ["1", "2"])
        XCTAssertEqual(count.status, 400, count.text)
        XCTAssertEqual(count.json?["error"] as? String, "invalid_parameters")
        XCTAssertEqual(try respond("chl_00000000", ["123456"]).status, 404)
        let wrong = try respond(id, ["000000"])   // the challenge still waited after the bad count
        XCTAssertEqual(wrong.status, 401, wrong.text)
        XCTAssertEqual(wrong.json?["error"] as? String, "authentication_failed", wrong.text)
        XCTAssertEqual(try respond(id, ["000000"]).status, 404, "answered already")
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").json?["total"] as? Int, 0)
        XCTAssertEqual(try daemon.request("POST", "/api/remote/connect/respond", json: ["challenge_id": id]).status, 400)
    }

    func testTwoLoginsWaitingAtOnceDoNotMix() throws {
        let a = try XCTUnwrap(try challenge(try connect())["challenge_id"] as? String)
        let b = try XCTUnwrap(try challenge(try connect())["challenge_id"] as? String)
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(try respond(b, ["999999"]).status, 401, "b's wrong code fails b only")
        let ok = try respond(a, [try code(steps: 0)])
        XCTAssertEqual(ok.status, 200, ok.text)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").json?["total"] as? Int, 1)
        XCTAssertEqual(try daemon.request("GET", "/api/health").status, 200, "the loop served throughout")
    }

    func testExpiredChallengeIsNotFoundAndItsSessionIsClosed() throws {
        daemon = try DaemonProcess(settings: ["second_factor_timeout_seconds": "2"], environment: ["HOME": sshd.home.path])
        let c = try challenge(try connect())
        XCTAssertEqual(c["expires_in_seconds"] as? Int, 2)
        let id = try XCTUnwrap(c["challenge_id"] as? String)
        usleep(3_000_000)
        XCTAssertEqual(try respond(id, [try code(steps: 0)]).json?["error"] as? String, "challenge_not_found")
        let deadline = Date().addingTimeInterval(5)
        while !sshd.log.contains("Connection closed by") && !sshd.log.contains("Disconnected from") && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(sshd.log.contains("Connection closed by") || sshd.log.contains("Disconnected from"), "the waiting login's session was closed")
    }

    /// AuthenticationMethods publickey,keyboard-interactive: the key first (a partial
    /// success libssh2 1.10 reports as a refusal), then the code; the connection is not
    /// one that logs in again by itself.
    func testKeyThenCode() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rviewer-oath-key-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let users = dir.appendingPathComponent("users.oath").path
        try "HOTP/T30/6 \(SSHDFixture.passwordUser) - \(secret)\n".write(toFile: users, atomically: true, encoding: .utf8)
        chmod(users, 0o600)
        sshd = try SSHDFixture(extraConfig: ["KbdInteractiveAuthentication yes", "PasswordAuthentication no",
                                             "AuthenticationMethods publickey,keyboard-interactive"],
                               pam: "auth required pam_oath.so usersfile=\(users) window=10 digits=6\naccount required pam_unix.so\nsession required pam_unix.so\n")
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": SSHDFixture.passwordUser,
                                                                          "auth_method": "key", "private_key_path": sshd.ed25519Key])
        let c = try challenge(r)
        XCTAssertTrue(sshd.log.contains("Partial publickey"), "the key was accepted as the first of two")
        let ok = try respond(try XCTUnwrap(c["challenge_id"] as? String), [try code(steps: 0)])
        XCTAssertEqual(ok.status, 200, ok.text)
        let id = try XCTUnwrap(ok.json?["connection_id"] as? String)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200)
        sshd.dropSessions()
        let status = try daemon.waitForFirstConnectionStatus("disconnected", timeout: 15)
        XCTAssertEqual(status, "disconnected")
        let list = try daemon.request("GET", "/api/remote/connections").json?["connections"] as? [[String: Any]]
        XCTAssertEqual(list?.first?["reconnecting"] as? Bool, false, "a second factor is never asked behind the user's back")
    }

    /// The console asks for the code in a dialog (headless Chromium, Tests/Browser/console_login.py).
    func testConsoleAsksForTheCodeInADialog() throws {
        let output = try BrowserScript.run("console_login.py", daemon: daemon, environment: [
            "RV_MODE": "second-factor", "RV_SSH_PORT": "\(sshd.port)", "RV_USER": SSHDFixture.passwordUser, "RV_PASSWORD": password,
            "RV_CODE_CMD": "/usr/bin/oathtool --totp -d 6 \(secret)"])
        XCTAssertEqual(output.status, 0, output.text)
        XCTAssertTrue(output.text.contains("LOGIN DIALOG OK"), output.text)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").json?["total"] as? Int, 1)
        XCTAssertFalse(daemon.stderr.contains(password), "the password never reaches the log")
    }

    /// The CLI asks for the password and then the server's code on the terminal (a pty
    /// from script(1)), without echo, and connects.
    func testCLIAsksForThePasswordAndTheCodeOnTheTerminal() throws {
        let host = "\(SSHDFixture.passwordUser)@127.0.0.1:\(sshd.port)"
        let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Support/pty_answer.py").path
        let otp = try code(steps: 0)
        let transcript = try SSHDFixture.run("/usr/bin/python3", [helper, "password: ", password, "One-time password", otp, "--",
                                                                  DaemonProcess.binary.path, "envs", host, "--password",
                                                                  "--api", "http://127.0.0.1:\(daemon.port)"], limit: 90)
        XCTAssertTrue(transcript.contains("\(SSHDFixture.passwordUser)@127.0.0.1's password: "), transcript)
        XCTAssertTrue(transcript.contains("One-time password"), "the server's prompt, as it wrote it: \(transcript)")
        XCTAssertTrue(transcript.contains("python"), "the environments are listed once logged in: \(transcript)")
        XCTAssertFalse(transcript.contains(password), "the password is not echoed")
        XCTAssertFalse(transcript.contains(otp), "the code is not echoed")
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").json?["total"] as? Int, 1)
    }
}
