import Foundation
import Glibc
import XCTest

/// The HTTP server as clients meet it: the real daemon over real loopback sockets.
final class HTTPServerTests: XCTestCase {
    func testConnectionsListHasTheSpecShape() throws {
        let daemon = try DaemonProcess()
        let r = try daemon.client().get("/api/remote/connections")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers["content-type"], "application/json")
        XCTAssertEqual(r.text, #"{"success":true,"connections":[],"total":0}"#)
    }

    func testDaemonHealthReportsStatusAndVersion() throws {
        let daemon = try DaemonProcess()
        let json = try daemon.client().get("/api/health").json
        XCTAssertEqual(json?["success"] as? Bool, true)
        XCTAssertEqual(json?["status"] as? String, "ok")
        XCTAssertEqual(json?["version"] as? String, "0.1.0")
        XCTAssertNotNil((json?["libraries"] as? [String: String])?["libssh2"])
    }

    func testKeepAliveServesManyRequestsOnOneConnection() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.client()
        for _ in 0..<50 {
            let r = try client.get("/api/remote/connections")
            XCTAssertEqual(r.status, 200)
            XCTAssertNil(r.headers["connection"])
        }
        let last = try client.get("/api/health", keepAlive: false)
        XCTAssertEqual(last.status, 200)
        XCTAssertEqual(last.headers["connection"], "close")
        XCTAssertTrue(client.waitForClose())
    }

    func testThreePipelinedRequestsInOneWriteAnswerInOrder() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.client()
        try client.send("GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
            + "GET /api/nowhere HTTP/1.1\r\nHost: localhost\r\n\r\n"
            + "GET /api/remote/connections HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let a = try client.readResponse(), b = try client.readResponse(), c = try client.readResponse()
        XCTAssertEqual([a.status, b.status, c.status], [200, 404, 200])
        XCTAssertEqual(a.json?["status"] as? String, "ok")
        XCTAssertEqual(b.json?["error"] as? String, "not_found")
        XCTAssertEqual(c.json?["total"] as? Int, 0)
    }

    func testManyPipelinedRequestsStayInOrder() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.client()
        let paths = (0..<300).map { $0 % 3 == 0 ? "/api/health" : ($0 % 3 == 1 ? "/x\($0)" : "/api/remote/connections") }
        try client.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: localhost\r\n\r\n" }.joined())
        for (i, path) in paths.enumerated() {
            let r = try client.readResponse()
            XCTAssertEqual(r.status, i % 3 == 1 ? 404 : 200, path)
            if i % 3 == 1 { XCTAssertTrue(r.text.contains(path), "response \(i) out of order") }
        }
    }

    func testOversizedHeadIs431AndServerKeepsServing() throws {
        let daemon = try DaemonProcess(http: ["max_head_bytes": 4096])
        let client = try daemon.client()
        try client.send("GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Big: \(String(repeating: "a", count: 8000))\r\n\r\n")
        let r = try client.readResponse()
        XCTAssertEqual(r.status, 431)
        XCTAssertEqual(r.json?["error"] as? String, "headers_too_large")
        XCTAssertEqual(r.json?["success"] as? Bool, false)
        XCTAssertTrue(client.waitForClose())
        XCTAssertEqual(try daemon.client().get("/api/health").status, 200)
    }

    func testOversizedBodyIs413AndServerKeepsServing() throws {
        let daemon = try DaemonProcess(http: ["max_body_bytes": 4096])
        let client = try daemon.client()
        try client.send("POST /api/remote/connections HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        try? client.send(String(repeating: "x", count: 20000))   // the client goes on sending
        let r = try client.readResponse()
        XCTAssertEqual(r.status, 413)
        XCTAssertEqual(r.json?["error"] as? String, "payload_too_large")
        XCTAssertEqual(try daemon.client().get("/api/remote/connections").status, 200)
    }

    func testHeadGetsTheHeadWithoutTheBodyAndTheConnectionStaysInStep() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.client(timeout: 5)
        let full = try client.get("/api/health")
        XCTAssertEqual(full.status, 200)
        try client.send("HEAD /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        usleep(200_000)
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = recv(client.fd, &bytes, bytes.count, 0)
        let head = n > 0 ? String(decoding: bytes[..<n], as: UTF8.self) : ""
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200 OK\r\n"), head)
        XCTAssertTrue(head.hasSuffix("\r\n\r\n"), "nothing after the head: \(head)")
        XCTAssertTrue(head.contains("Content-Length: "), head)
        // The same keep-alive connection answers the next request in step.
        XCTAssertEqual(try client.get("/api/remote/connections").json?["total"] as? Int, 0)
    }

    func testExpectContinueGetsTheGoBeforeTheBody() throws {
        let daemon = try DaemonProcess(http: ["max_body_bytes": 4096])
        let client = try daemon.client(timeout: 5)
        let body = #"{"connection_id":"conn_00000000"}"#
        try client.send("POST /api/remote/environments/detect HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        // The client holds its body back until told to go on.
        var bytes = [UInt8](repeating: 0, count: 64)
        let n = recv(client.fd, &bytes, bytes.count, 0)
        XCTAssertEqual(n > 0 ? String(decoding: bytes[..<n], as: UTF8.self) : "nothing within 5 s", "HTTP/1.1 100 Continue\r\n\r\n")
        try client.send(body)
        let r = try client.readResponse()
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual(r.json?["error"] as? String, "connection_not_found")
        // Too large a body is refused at once, without the go-ahead.
        let big = try daemon.client(timeout: 5)
        try big.send("POST /api/remote/connect HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n")
        let refused = try big.readResponse()
        XCTAssertEqual(refused.status, 413)
        XCTAssertEqual(refused.json?["error"] as? String, "payload_too_large")
    }

    func testChunkedOversizedBodyIs413() throws {
        let daemon = try DaemonProcess(http: ["max_body_bytes": 1024])
        let client = try daemon.client()
        let chunk = String(repeating: "z", count: 1000)
        try client.send("POST /api/remote/connections HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n\(chunk)\r\n3e8\r\n\(chunk)\r\n0\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 413)
    }

    func testHalfSentHeadDoesNotDelayOthersAndIsClosedAtTimeout() throws {
        let daemon = try DaemonProcess(http: ["request_timeout_ms": 1000])
        let slow = try daemon.client(timeout: 8)
        try slow.send("GET /api/health HTTP/1.1\r\nHost: loc")
        // Others are served at once while the slow head is pending.
        let start = Date()
        for _ in 0..<20 { XCTAssertEqual(try daemon.client().get("/api/health").status, 200) }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0)
        // The slow client is cut off at its deadline, not before and not never.
        XCTAssertTrue(slow.waitForClose())
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(waited, 0.5)
        XCTAssertLessThan(waited, 5)
    }

    func testSilentConnectionIsClosedAtTheRequestTimeout() throws {
        let daemon = try DaemonProcess(http: ["request_timeout_ms": 500])
        let silent = try daemon.client(timeout: 5)
        XCTAssertTrue(silent.waitForClose())
    }

    func testIdleKeepAliveConnectionIsClosed() throws {
        let daemon = try DaemonProcess(http: ["idle_timeout_ms": 500])
        let client = try daemon.client(timeout: 5)
        XCTAssertEqual(try client.get("/api/health").status, 200)
        XCTAssertTrue(client.waitForClose())
    }

    func testMalformedRequestIs400AndClosed() throws {
        let daemon = try DaemonProcess()
        for garbage in ["HELLO\r\n\r\n", "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "GET /api/health HTTP/9.9\r\n\r\n"] {
            let client = try daemon.client()
            try client.send(garbage)
            let r = try client.readResponse()
            XCTAssertEqual(r.status, 400, garbage.debugDescription)
            XCTAssertEqual(r.json?["success"] as? Bool, false)
            XCTAssertEqual(r.json?["error"] as? String, "bad_request")
            XCTAssertTrue(client.waitForClose())
        }
        XCTAssertEqual(try daemon.client().get("/api/health").status, 200)
    }

    func testUnifiedErrorsOverTheWire() throws {
        let daemon = try DaemonProcess()
        let c = try daemon.client()
        var r = try c.get("/api/remote/nothing")
        XCTAssertEqual(r.status, 404); XCTAssertEqual(r.json?["error"] as? String, "not_found")
        try c.send("DELETE /api/remote/connections HTTP/1.1\r\nHost: localhost\r\n\r\n")
        r = try c.readResponse()
        XCTAssertEqual(r.status, 405); XCTAssertEqual(r.json?["error"] as? String, "method_not_allowed")
        XCTAssertEqual(r.headers["allow"], "GET")
        try c.send("GET /api/health HTTP/1.1\r\nHost: rebind.attacker.example\r\n\r\n")
        r = try c.readResponse()
        XCTAssertEqual(r.status, 403); XCTAssertEqual(r.json?["error"] as? String, "forbidden_host")
        try c.send("GET /api/health HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost:8081\r\n\r\n")
        r = try c.readResponse()
        XCTAssertEqual(r.status, 403); XCTAssertEqual(r.json?["error"] as? String, "forbidden_origin")
        try c.send("POST /api/remote/connections HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}")
        r = try c.readResponse()
        XCTAssertEqual(r.status, 415); XCTAssertEqual(r.json?["error"] as? String, "unsupported_media_type")
        // The connection survived every one of those.
        XCTAssertEqual(try c.get("/api/health").status, 200)
    }

    func testThousandConcurrentConnectionsOnOneThread() throws {
        let daemon = try DaemonProcess()
        var clients: [RawClient] = []
        for _ in 0..<1000 { clients.append(try daemon.client()) }
        for c in clients { try c.send("GET /api/remote/connections HTTP/1.1\r\nHost: localhost\r\n\r\n") }
        XCTAssertEqual(try daemon.threadCount(), 1, "the daemon serves everything from its one reactor thread")
        var ok = 0
        for c in clients where try c.readResponse().status == 200 { ok += 1 }
        XCTAssertEqual(ok, 1000)
        // All still open and usable.
        for c in clients.prefix(10) { XCTAssertEqual(try c.get("/api/health").status, 200) }
    }

    func testSIGTERMShutsDownCleanly() throws {
        let daemon = try DaemonProcess(http: ["shutdown_grace_ms": 3000])
        let idle = try daemon.client()
        XCTAssertEqual(try idle.get("/api/health").status, 200)
        let start = Date()
        XCTAssertEqual(daemon.stop(signal: SIGTERM), 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 3, "idle connections must not hold up shutdown")
        XCTAssertTrue(idle.waitForClose())
        XCTAssertThrowsError(try daemon.client(), "the listener is closed")
        XCTAssertTrue(daemon.stderr.contains("shutdown complete"))
    }

    func testSecondDaemonOnTheSameStateDirectoryIsRefused() throws {
        let first = try DaemonProcess()
        XCTAssertThrowsError(try DaemonProcess(stateDirectory: first.stateDirectory)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("another rviewer (pid \(first.pid)) is using the state directory \(first.stateDirectory)"), text)
        }
        XCTAssertEqual(try first.request("GET", "/api/health").status, 200, "the first one serves on")
        first.stop(signal: SIGKILL)   // however it ends, the lock goes with it
        let next = try DaemonProcess(stateDirectory: first.stateDirectory)
        XCTAssertEqual(try next.request("GET", "/api/health").status, 200)
    }

    func testSIGINTAlsoShutsDown() throws {
        let daemon = try DaemonProcess()
        XCTAssertEqual(daemon.stop(signal: SIGINT), 0)
    }
}
