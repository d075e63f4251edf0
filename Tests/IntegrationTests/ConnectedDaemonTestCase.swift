import Foundation
import XCTest

/// A test class's fixture: its own sshd, a daemon, and one key connection between them.
class ConnectedDaemonTestCase: XCTestCase {
    var sshd: SSHDFixture!
    var daemon: DaemonProcess!
    var connectionID = ""

    override func setUpWithError() throws {
        sshd = try SSHDFixture()
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
                                                                          "auth_method": "key", "private_key_path": sshd.ed25519Key])
        XCTAssertEqual(r.status, 200, r.text)
        connectionID = try XCTUnwrap(r.json?["connection_id"] as? String)
    }

    /// XCTest keeps every test case object until the run ends: drop the daemon and the
    /// sshd now so their processes end with the test.
    override func tearDown() {
        daemon = nil
        sshd = nil
    }
}

/// The same, with an echo server on loopback as the forwards' target.
class EchoTargetTestCase: ConnectedDaemonTestCase {
    var echo: EchoServer!

    override func setUpWithError() throws {
        try super.setUpWithError()
        echo = try EchoServer()
    }

    override func tearDown() {
        super.tearDown()
        echo = nil
    }
}
