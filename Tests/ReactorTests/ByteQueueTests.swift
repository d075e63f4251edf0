import Glibc
import XCTest
@testable import Reactor

final class ByteQueueTests: XCTestCase {
    func testFlushDeliversEverythingInOrder() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        var queue = ByteQueue()
        queue.append(contentsOf: Array("hello ".utf8))
        queue.appending { $0.append(contentsOf: Array("world".utf8)) }
        XCTAssertEqual(queue.count, 11)
        XCTAssertEqual(queue.flush(to: fds[0]), .bytes(11))
        XCTAssertTrue(queue.isEmpty)
        var buf = [UInt8](repeating: 0, count: 32)
        let n = read(fds[1], &buf, 32)
        XCTAssertEqual(String(decoding: buf[0..<n], as: UTF8.self), "hello world")
    }

    func testPartialFlushKeepsTheRest() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        var queue = ByteQueue()
        let big = [UInt8](repeating: 7, count: 4 << 20)   // more than a socket buffer
        queue.append(contentsOf: big)
        guard case .bytes(let first) = queue.flush(to: fds[0]) else { return XCTFail("no progress") }
        XCTAssertGreaterThan(first, 0)
        XCTAssertEqual(queue.count, big.count - first)
        var received = first
        var sink = [UInt8](repeating: 0, count: 1 << 16)
        // Drain the reader side and keep flushing until everything went through.
        var spins = 0
        while !queue.isEmpty && spins < 100_000 {
            while read(fds[1], &sink, sink.count) > 0 {}
            if case .bytes(let n) = queue.flush(to: fds[0]) { received += n }
            spins += 1
        }
        XCTAssertTrue(queue.isEmpty)
        XCTAssertEqual(received, big.count)
    }
}
