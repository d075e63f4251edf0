import Foundation
import Glibc
import XCTest

/// Faults on the link between the daemon and sshd (a proxy the test controls,
/// FaultProxy): garbage instead of a server, a close during the handshake, a link that
/// trickles one byte at a time, one that stalls mid-transfer, one that is reset. The
/// API answers throughout, tunnels fail cleanly or come back with the reconnect, and
/// no byte that arrives is wrong (checksums).
final class FaultTests: XCTestCase {
    private var sshd: SSHDFixture!
    private var proxy: FaultProxy!
    private var daemon: DaemonProcess!
    private var echo: EchoServer!

    override func setUpWithError() throws {
        sshd = try SSHDFixture()
        proxy = FaultProxy(upstreamPort: sshd.port)
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
        echo = try EchoServer()
    }

    override func tearDown() {
        daemon = nil
        proxy = nil
        sshd = nil
        echo = nil
    }

    private func connect(timeout: Int = 20) throws -> RawClient.Response {
        try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": proxy.port, "username": sshd.user,
                                                                  "auth_method": "key", "private_key_path": sshd.ed25519Key,
                                                                  "timeout": timeout], timeout: Double(timeout) + 10)
    }

    private func connected() throws -> String {
        let r = try connect()
        XCTAssertEqual(r.status, 200, r.text)
        return try XCTUnwrap(r.json?["connection_id"] as? String)
    }

    private func forward(_ id: String) throws -> Int {
        let r = try daemon.request("POST", "/api/remote/forwards", json: ["connection_id": id, "remote_port": echo.port])
        XCTAssertEqual(r.status, 200, r.text)
        return try XCTUnwrap(r.json?["local_port"] as? Int)
    }

    /// The daemon still serves its API, and holds nothing it should not.
    private func assertAPIAnswers(connections: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try daemon.request("GET", "/api/health", timeout: 5).status, 200, file: file, line: line)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections", timeout: 5).json?["total"] as? Int, connections, file: file, line: line)
    }

    func testGarbageInsteadOfAServerIsAClearErrorAndChangesNothing() throws {
        proxy.garbage = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nthis is not ssh\n".utf8)
        let r = try connect()
        XCTAssertEqual(r.status, 500, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "ssh_error", r.text)
        XCTAssertFalse((r.json?["message"] as? String ?? "").isEmpty)
        try assertAPIAnswers(connections: 0)
    }

    func testCloseDuringTheHandshakeIsAClearErrorAndChangesNothing() throws {
        proxy.closeAfterServerBytes = 300   // the banner and part of the key exchange
        let r = try connect()
        XCTAssertEqual(r.status, 500, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "ssh_error", r.text)
        try assertAPIAnswers(connections: 0)
        proxy.closeAfterServerBytes = nil
        _ = try connected()   // and the next try, on a sound link, works
        try assertAPIAnswers(connections: 1)
    }

    func testATricklingLinkStillCarriesEveryByte() throws {
        proxy.mode = .trickle(delayUs: 100)
        let id = try connected()
        let port = try forward(id)
        let (sent, received) = ForwardTests.roundTrip(port: port, bytes: 8_192, seed: 11)
        XCTAssertEqual(received.count, sent.count)
        XCTAssertEqual(received.value, sent.value)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)", timeout: 30).status, 200)
    }

    func testAStalledLinkDoesNotStopTheAPIAndTheTransferCompletes() throws {
        let id = try connected()
        let port = try forward(id)
        let transfer = BackgroundTransfer(port: port, bytes: 4 << 20, seed: 5)
        usleep(100_000)
        proxy.mode = .stall
        for _ in 0..<10 {   // 3 s of a dead link: the API, on the same loop, answers all along
            try assertAPIAnswers(connections: 1)
            usleep(300_000)
        }
        proxy.mode = .pass
        let (sent, received) = try XCTUnwrap(transfer.wait(seconds: 60), "the transfer finished once the link moved again")
        XCTAssertEqual(received.count, sent.count)
        XCTAssertEqual(received.value, sent.value, "every byte, in order")
    }

    func testAResetLinkEndsTheTunnelsCleanlyAndTheReconnectBringsThemBack() throws {
        let id = try connected()
        let port = try forward(id)
        let transfer = BackgroundTransfer(port: port, bytes: 64 << 20, seed: 9)
        usleep(300_000)
        proxy.resetAll()
        let (sent, received) = try XCTUnwrap(transfer.wait(seconds: 30), "the client was closed, not left hanging")
        XCTAssertLessThan(received.count, sent.count, "the reset cut the transfer short")
        try assertAPIAnswers(connections: 1)
        // The reconnect logs in again through the proxy and listens on the same port.
        let deadline = Date().addingTimeInterval(30)
        var status = ""
        while Date() < deadline {
            let entry = (try daemon.request("GET", "/api/remote/connections").json?["connections"] as? [[String: Any]])?.first
            status = entry.map { "\($0["status"] as? String ?? "?") \($0["reconnecting"] as? Bool ?? false)" } ?? "gone"
            if status == "connected false" { break }
            usleep(100_000)
        }
        XCTAssertEqual(status, "connected false")
        XCTAssertGreaterThanOrEqual(proxy.accepted, 2, "it came back through the proxy")
        let (again, back) = ForwardTests.roundTrip(port: port, bytes: 1 << 20, seed: 10)
        XCTAssertEqual(back.count, again.count)
        XCTAssertEqual(back.value, again.value, "the forward carries every byte again, on the same port")
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200)
    }
}

/// A checksummed round trip through a forward on a thread of its own, while the test
/// does things to the link.
final class BackgroundTransfer: @unchecked Sendable {
    private var sums: (Checksum, Checksum)?
    private let done = DispatchSemaphore(value: 0)

    init(port: Int, bytes: Int, seed: UInt64) {
        Thread.detachNewThread { [self] in
            sums = ForwardTests.roundTrip(port: port, bytes: bytes, seed: seed)
            done.signal()
        }
    }

    /// (sent, received), or nil if it did not end within `seconds`.
    func wait(seconds: Int) -> (Checksum, Checksum)? {
        done.wait(timeout: .now() + .seconds(seconds)) == .success ? sums : nil
    }
}
