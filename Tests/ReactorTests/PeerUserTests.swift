import Foundation
import Glibc
import XCTest
@testable import Reactor

/// The owner of a loopback peer socket, from NETLINK_SOCK_DIAG: right for IPv4 and IPv6,
/// nil for what is not a TCP peer, and what one lookup costs (printed, not asserted).
final class PeerUserTests: XCTestCase {
    private func pair(_ family: Int32, _ loopback: String) throws -> (client: Int32, server: Int32) {
        let l = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        var storage = sockaddr_storage()
        var len: socklen_t
        if family == AF_INET {
            var a = sockaddr_in(); a.sin_family = sa_family_t(AF_INET); inet_pton(AF_INET, loopback, &a.sin_addr)
            withUnsafeMutableBytes(of: &storage) { d in withUnsafeBytes(of: &a) { d.copyMemory(from: $0) } }
            len = socklen_t(MemoryLayout<sockaddr_in>.size)
        } else {
            var a = sockaddr_in6(); a.sin6_family = sa_family_t(AF_INET6); inet_pton(AF_INET6, loopback, &a.sin6_addr)
            withUnsafeMutableBytes(of: &storage) { d in withUnsafeBytes(of: &a) { d.copyMemory(from: $0) } }
            len = socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
        try XCTSkipUnless(withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(l, $0, len) } } == 0, "no \(loopback)")
        listen(l, 4)
        var bound = sockaddr_storage(), blen = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(l, $0, &blen) } }
        let c = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertEqual(withUnsafePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c, $0, blen) } }, 0)
        let s = accept(l, nil, nil)
        close(l)
        return (c, s)
    }

    func testOwnerOfLoopbackPeers() throws {
        for (family, address) in [(AF_INET, "127.0.0.1"), (AF_INET6, "::1")] {
            let (c, s) = try pair(family, address)
            defer { close(c); close(s) }
            XCTAssertEqual(PeerUser.shared.uid(of: s), geteuid(), address)
            XCTAssertTrue(SameUserGuard(allowOtherUsers: false).admits(s))
            XCTAssertFalse(SameUserGuard(allowOtherUsers: false, uid: geteuid() + 4242).admits(s), "another uid is refused")
            XCTAssertTrue(SameUserGuard(allowOtherUsers: true, uid: geteuid() + 4242).admits(s))
        }
        var fds: [Int32] = [-1, -1]
        socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds)
        defer { close(fds[0]); close(fds[1]) }
        XCTAssertNil(PeerUser.shared.uid(of: fds[0]), "not a TCP peer: unknown, so refused by the guard")
        XCTAssertFalse(SameUserGuard(allowOtherUsers: false).admits(fds[0]))
    }

    func testLookupCost() throws {
        let (c, s) = try pair(AF_INET, "127.0.0.1")
        defer { close(c); close(s) }
        let n = 20_000
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<n { _ = PeerUser.shared.uid(of: s) }
        let perLookup = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n) / 1000
        print(String(format: "peer owner lookup: %.2f us per accept (%d lookups)", perLookup, n))
        XCTAssertEqual(PeerUser.shared.uid(of: s), geteuid())
    }
}
