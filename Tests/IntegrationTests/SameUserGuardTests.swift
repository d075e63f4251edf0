import Foundation
import Glibc
import XCTest

/// The same-user guard from outside, as another local user would meet it (root runs the
/// tests; the other user's processes are started with setpriv): the API answers 403
/// forbidden_user, a forward's local port closes at once, the daemon's own user is served,
/// and `allow_other_users` lets everyone in.
final class SameUserGuardTests: XCTestCase {
    static let other = "rviewer-other"
    private var sshd: SSHDFixture!
    private var daemon: DaemonProcess!
    private var echo: EchoServer!

    override func setUpWithError() throws {
        try XCTSkipUnless(getuid() == 0, "needs root to act as another user")
        if getpwnam(Self.other) == nil { try SSHDFixture.run("/usr/sbin/useradd", ["-M", "-s", "/bin/sh", Self.other]) }
        sshd = try SSHDFixture()
        echo = try EchoServer()
    }

    override func tearDown() {
        daemon = nil
        sshd = nil
        echo = nil
    }

    /// Runs a Python snippet as the other user; its stdout.
    private func asOther(_ code: String) throws -> String {
        let pw = try XCTUnwrap(getpwnam(Self.other)).pointee
        return try SSHDFixture.run("/usr/bin/setpriv", ["--reuid=\(pw.pw_uid)", "--regid=\(pw.pw_gid)", "--clear-groups",
                                                        "/usr/bin/python3", "-c", code]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func getAsOther(_ path: String) throws -> String {
        try asOther("""
            import http.client
            c = http.client.HTTPConnection("127.0.0.1", \(daemon.port), timeout=10)
            c.request("GET", "\(path)")
            r = c.getresponse()
            print(r.status, r.read().decode())
            """)
    }

    /// What the other user reads back from a local port after sending a line ("" when it
    /// was closed at once).
    private func echoAsOther(_ port: Int) throws -> String {
        try asOther("""
            import socket
            s = socket.create_connection(("127.0.0.1", \(port)), timeout=10)
            try:
                s.sendall(b"hello\\n")
                print(repr(s.recv(64)))
            except OSError as e:
                print("closed:", e.errno)
            """)
    }

    private func openForward() throws -> Int {
        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
                                                                          "auth_method": "key", "private_key_path": sshd.ed25519Key])
        let id = try XCTUnwrap(r.json?["connection_id"] as? String, r.text)
        let f = try daemon.request("POST", "/api/remote/forwards", json: ["connection_id": id, "remote_host": "127.0.0.1", "remote_port": echo.port])
        return try XCTUnwrap(f.json?["local_port"] as? Int, f.text)
    }

    func testOtherUsersAreRefusedAndOwnUserIsServed() throws {
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
        let api = try getAsOther("/api/remote/connections")
        XCTAssertTrue(api.hasPrefix("403 "), api)
        XCTAssertTrue(api.contains("\"error\":\"forbidden_user\""), api)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").status, 200, "the daemon's own user")
        let port = try openForward()
        let accepted = echo.accepted
        let refused = try echoAsOther(port)
        XCTAssertTrue(refused == "b''" || refused.hasPrefix("closed:"), "closed at once: \(refused)")
        XCTAssertEqual(echo.accepted, accepted, "nothing reached the target for the other user")
        let (sent, received) = ForwardTests.roundTrip(port: port, bytes: 1 << 16, seed: 3)
        XCTAssertEqual(received.value, sent.value, "the own user's client is served")
    }

    func testAllowOtherUsersLetsThemIn() throws {
        daemon = try DaemonProcess(settings: ["allow_other_users": "true"], environment: ["HOME": sshd.home.path])
        let api = try getAsOther("/api/remote/connections")
        XCTAssertTrue(api.hasPrefix("200 "), api)
        XCTAssertEqual(try echoAsOther(try openForward()), "b'hello\\n'")
    }
}
