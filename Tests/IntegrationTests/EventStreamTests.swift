import Foundation
import Glibc
import XCTest

/// A reader of `GET /api/events` over a real socket: the head, then events as they come.
final class EventReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var head = ""

    init(port: Int, timeout: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw NSError(domain: "EventReader", code: Int(errno)) }
        let request = "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
    }

    deinit { close(fd) }

    /// Reads until `separator` is buffered; the bytes before it (nil at EOF or timeout).
    private func take(until separator: [UInt8]) -> [UInt8]? {
        while true {
            if let i = buffer.indices.first(where: { buffer[$0...].starts(with: separator) }) {
                let piece = Array(buffer[..<i])
                buffer.removeFirst(i + separator.count)
                return piece
            }
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    /// The response head (status line and headers).
    func readHead() -> String? {
        guard let bytes = take(until: Array("\r\n\r\n".utf8)) else { return nil }
        head = String(decoding: bytes, as: UTF8.self)
        return head
    }

    /// The next block: an event (`name`, `data`) or a comment/field block (`name` nil, `data` the raw text).
    func next() -> (name: String?, data: String)? {
        guard let bytes = take(until: Array("\n\n".utf8)) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        var name: String?
        var data = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
            else if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
        }
        return (name, name == nil ? text : data)
    }

    /// The next named event, skipping comments and the retry field.
    func nextEvent() -> (name: String, json: [String: Any])? {
        while let block = next() {
            guard let name = block.name else { continue }
            let json = (try? JSONSerialization.jsonObject(with: Data(block.data.utf8))) as? [String: Any] ?? [:]
            return (name, json)
        }
        return nil
    }
}

/// `GET /api/events` (decisions.md, "Front door") against a real sshd: the current state
/// first, then connection, forward and removed events in the order things happen; many
/// streams held open on the one reactor thread.
final class EventStreamTests: XCTestCase {
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

    private func connect() throws -> String {
        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
                                                                       "auth_method": "key", "private_key_path": sshd.ed25519Key])
        XCTAssertEqual(r.status, 200, r.text)
        return try XCTUnwrap(r.json?["connection_id"] as? String)
    }

    func testHeadThenStateThenChangesInOrder() throws {
        let empty = try EventReader(port: daemon.port)
        let head = try XCTUnwrap(empty.readHead())
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200 "), head)
        XCTAssertTrue(head.contains("Content-Type: text/event-stream"), head)
        XCTAssertFalse(head.contains("Content-Length"), "a stream has no length")
        XCTAssertEqual(empty.next()?.data, "retry: 2000", "an empty daemon sends only the retry field")

        let id = try connect()
        let connected = try XCTUnwrap(empty.nextEvent())
        XCTAssertEqual(connected.name, "connection")
        XCTAssertEqual(connected.json["connection_id"] as? String, id)
        XCTAssertEqual(connected.json["status"] as? String, "connected")
        XCTAssertEqual(connected.json["port"] as? Int, sshd.port)

        let f = try daemon.request("POST", "/api/remote/forwards", json: ["connection_id": id, "remote_port": sshd.port])
        let forwardID = try XCTUnwrap(f.json?["forward_id"] as? String)
        var next = try XCTUnwrap(empty.nextEvent())
        if next.name == "connection" { next = try XCTUnwrap(empty.nextEvent()) }   // its entry may repeat (forwards changed)
        XCTAssertEqual(next.name, "forward")
        XCTAssertEqual(next.json["forward_id"] as? String, forwardID)
        XCTAssertEqual(next.json["bytes_up"] as? Int, 0)

        // A second reader, opened now, gets the current state first: the connection, then its forward.
        let late = try EventReader(port: daemon.port)
        _ = late.readHead()
        XCTAssertEqual(late.next()?.data, "retry: 2000")
        XCTAssertEqual(late.nextEvent()?.name, "connection")
        let state = try XCTUnwrap(late.nextEvent())
        XCTAssertEqual(state.name, "forward")
        XCTAssertEqual(state.json["forward_id"] as? String, forwardID)

        XCTAssertEqual(try daemon.request("DELETE", "/api/remote/forwards/\(forwardID)").status, 200)
        XCTAssertEqual(try daemon.request("DELETE", "/api/remote/connections/\(id)").status, 200)
        for reader in [empty, late] {
            var removed: [String] = []
            while removed.count < 2, let event = reader.nextEvent() {
                if event.name == "removed" { removed.append("\(event.json["kind"] as? String ?? "?") \(event.json["id"] as? String ?? "?")") }
            }
            XCTAssertEqual(removed, ["forward \(forwardID)", "connection \(id)"], "the forward goes before its connection")
        }
        XCTAssertEqual(try daemon.request("GET", "/metrics").text.contains("rviewer_event_streams 2"), true)
    }

    /// 1,000 idle streams on the one reactor thread: each gets a change, each gets the
    /// 15 s keepalive, and the API keeps answering.
    func testAThousandStreamsOnOneThread() throws {
        let readers = try (0..<1000).map { _ in try EventReader(port: daemon.port, timeout: 30) }
        for reader in readers {
            XCTAssertTrue(reader.readHead()?.hasPrefix("HTTP/1.1 200 ") == true)
            XCTAssertEqual(reader.next()?.data, "retry: 2000")
        }
        XCTAssertTrue(try daemon.request("GET", "/metrics").text.contains("rviewer_event_streams 1000"))
        XCTAssertEqual(try daemon.request("GET", "/api/health").status, 200, "the API answers with 1,000 streams open")
        let id = try connect()
        var got = 0
        for reader in readers where reader.nextEvent().map({ $0.name == "connection" && $0.json["connection_id"] as? String == id }) == true {
            got += 1
        }
        XCTAssertEqual(got, 1000, "every stream heard of the connection")
        XCTAssertLessThanOrEqual(try daemon.threadCount(), 2, "the reactor thread (and the helper) only")
        // The keepalive comment comes within 15 s of the last event (plus the time to read 1,000).
        var kept = 0
        for reader in readers where reader.next()?.data == ": keepalive" { kept += 1 }
        XCTAssertEqual(kept, 1000)
    }
}
