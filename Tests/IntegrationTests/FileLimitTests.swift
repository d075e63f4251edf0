import Foundation
import Glibc
import XCTest

/// The daemon under a file limit of 256 (prlimit) with 1,000 clients at once: it does
/// not crash or spin; clients beyond what it can hold are closed at once (libuv's EMFILE
/// trick) and served when they come back, every one of them in the end.
final class FileLimitTests: XCTestCase {
    static let clients = 1000

    private func connectAndAsk(_ port: Int) -> Int32 {
        let fd = ForwardTests.connectTCP(port)
        guard fd >= 0 else { return -1 }
        let request = "GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        return fd
    }

    func testAThousandClientsUnderAFileLimitOf256AreAllServedInTheEnd() throws {
        let daemon = try DaemonProcess(wrapper: ["/usr/bin/prlimit", "--nofile=256:256", "--"])
        let limits = try String(contentsOfFile: "/proc/\(daemon.pid)/limits", encoding: .utf8)
        XCTAssertTrue(limits.split(separator: "\n").contains { $0.hasPrefix("Max open files") && $0.contains(" 256 ") }, limits)
        var open: [Int32: [UInt8]] = [:]   // fd -> what it read so far
        for _ in 0..<Self.clients { let fd = connectAndAsk(daemon.port); if fd >= 0 { open[fd] = [] } }
        var served = 0, refused = 0, retries = 0
        let deadline = Date().addingTimeInterval(90)
        while served < Self.clients && Date() < deadline {
            var polls = open.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if polls.isEmpty { break }
            guard poll(&polls, nfds_t(polls.count), 200) >= 0 else { continue }
            for p in polls where p.revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = recv(p.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if n > 0 { open[p.fd]! += buffer[0..<n]; continue }
                if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                // The daemon closed it: with an answer (served) or without (refused: ask again).
                let text = String(decoding: open[p.fd]!, as: UTF8.self)
                close(p.fd)
                open[p.fd] = nil
                if text.hasPrefix("HTTP/1.1 200 ") && text.contains("\"status\":\"ok\"") {
                    served += 1
                } else {
                    XCTAssertTrue(text.isEmpty, "a client is answered in full or closed without a word: \(text.prefix(200))")
                    refused += 1
                    let fd = connectAndAsk(daemon.port)
                    if fd >= 0 { open[fd] = []; retries += 1 }
                }
            }
        }
        for fd in open.keys { close(fd) }
        XCTAssertEqual(served, Self.clients, "every client served in the end (\(refused) refused and asked again)")
        XCTAssertGreaterThan(refused, 0, "the limit was reached: some clients were refused first")
        XCTAssertNotNil(try? daemon.cpuSeconds(), "still running")
        XCTAssertEqual(try daemon.request("GET", "/api/health").status, 200, "and serving")
    }
}
