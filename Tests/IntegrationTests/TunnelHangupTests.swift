import Foundation
import XCTest

/// A tunnel client that resets while its channel cannot close yet: the channel waits for
/// the server's CLOSE, which sshd sends only once its target has taken what sshd still
/// holds for it, and this target reads nothing. The client's socket, reset, reports
/// EPOLLHUP on every epoll wait whatever the mask; with the fd left in the epoll set the
/// daemon spun at 100% CPU for as long as the target kept its side open (found after
/// iperf3 runs through a forward in the benchmarks).
final class TunnelHangupTests: ConnectedDaemonTestCase {
    func testResetClientWaitingOnAClosedChannelDoesNotSpin() throws {
        // The target: takes the connection and never reads it.
        let (listener, targetPort) = SSHDFixture.listenLoopback(backlog: 4)
        defer { close(listener) }
        final class Held: @unchecked Sendable { var fd: Int32 = -1 }
        let held = Held()
        let accepted = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            held.fd = accept(listener, nil, nil)
            accepted.signal()
        }
        defer { if held.fd >= 0 { close(held.fd) } }
        let f = try daemon.request("POST", "/api/remote/forwards", json: ["connection_id": connectionID, "remote_port": targetPort])
        XCTAssertEqual(f.status, 200, f.text)
        let port = try XCTUnwrap(f.json?["local_port"] as? Int)

        // A client pushes until every buffer on the way is full, then resets.
        let client = ForwardTests.connectTCP(port)
        XCTAssertGreaterThanOrEqual(client, 0)
        XCTAssertEqual(accepted.wait(timeout: .now() + 10), .success, "the tunnel reached the target")
        _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
        var chunk = [UInt8](repeating: 0x5a, count: 64 << 10)
        var pushed = 0, idleSince = Date()
        while Date().timeIntervalSince(idleSince) < 1.0 {
            let n = send(client, &chunk, chunk.count, Int32(MSG_NOSIGNAL))
            if n > 0 { pushed += n; idleSince = Date() } else { usleep(20_000) }
        }
        XCTAssertGreaterThan(pushed, 1 << 20, "the buffers filled")
        var hard = linger(l_onoff: 1, l_linger: 0)
        setsockopt(client, SOL_SOCKET, SO_LINGER, &hard, socklen_t(MemoryLayout<linger>.size))
        close(client)   // RST

        usleep(500_000)
        let before = try daemon.cpuSeconds()
        usleep(2_000_000)
        let used = try daemon.cpuSeconds() - before
        XCTAssertLessThan(used, 0.5, "the daemon idles while the channel waits for the server's CLOSE (used \(used) s of CPU in 2 s)")
        let list = try daemon.request("GET", "/api/remote/forwards")
        XCTAssertEqual(list.status, 200)

        // Once the target reads (here: goes away), sshd closes the channel and the client is gone.
        close(held.fd)
        held.fd = -1
        let deadline = Date().addingTimeInterval(10)
        var active = -1
        while Date() < deadline {
            let r = try daemon.request("GET", "/api/remote/forwards")
            active = ((r.json?["forwards"] as? [[String: Any]])?.first?["clients_active"] as? Int) ?? -1
            if active == 0 { break }
            usleep(50_000)
        }
        XCTAssertEqual(active, 0, "the client is closed once the channel is")
    }
}
