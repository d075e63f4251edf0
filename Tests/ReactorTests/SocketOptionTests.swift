import Glibc
import Reactor
import XCTest

final class SocketOptionTests: XCTestCase {
    private func option(_ fd: Int32, _ level: Int32, _ name: Int32) -> UInt32 {
        var v: UInt32 = 0
        var len = socklen_t(MemoryLayout<UInt32>.size)
        XCTAssertEqual(getsockopt(fd, level, name, &v, &len), 0)
        return v
    }

    func testKeepAliveAlsoBoundsUnacknowledgedData() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        XCTAssertEqual(option(fd, Int32(IPPROTO_TCP), TCP_USER_TIMEOUT), 0, "the kernel's default first")
        Socket.setKeepAlive(fd)
        XCTAssertEqual(option(fd, SOL_SOCKET, SO_KEEPALIVE), 1)
        XCTAssertEqual(option(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE), 30)
        XCTAssertEqual(option(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT), 3)
        XCTAssertEqual(option(fd, Int32(IPPROTO_TCP), TCP_USER_TIMEOUT), 60_000, "idle + interval x count, in ms")
    }
}
