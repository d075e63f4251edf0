import Foundation
import Glibc

/// A TCP proxy between the daemon and sshd that the test controls (threads and blocking
/// sockets, test side only): pass bytes, stall the link, trickle one byte at a time,
/// reset both sides, close after so many bytes from the server, or answer with garbage
/// instead of a server.
final class FaultProxy: @unchecked Sendable {
    enum Mode: Equatable {
        case pass
        /// Nothing moves either way until the mode changes.
        case stall
        /// One byte at a time, `delayUs` apart, each way.
        case trickle(delayUs: UInt32)
    }

    let port: Int
    private let listener: Int32
    private let upstreamPort: Int
    private let lock = NSLock()
    private var mode_: Mode = .pass
    private var links: [(Int32, Int32)] = []
    /// Set: new connections get these bytes and are closed (no server behind them).
    var garbage: [UInt8]? { get { locked { garbage_ } } set { locked { garbage_ = newValue } } }
    private var garbage_: [UInt8]?
    /// Set: each new connection is closed after the server sent this many bytes.
    var closeAfterServerBytes: Int? { get { locked { closeAfter_ } } set { locked { closeAfter_ = newValue } } }
    private var closeAfter_: Int?
    private var accepted_ = 0
    var accepted: Int { locked { accepted_ } }

    var mode: Mode {
        get { locked { mode_ } }
        set { locked { mode_ = newValue } }
    }

    private func locked<T>(_ body: () -> T) -> T { lock.lock(); defer { lock.unlock() }; return body() }

    init(upstreamPort: Int) {
        self.upstreamPort = upstreamPort
        (listener, port) = SSHDFixture.listenLoopback(backlog: 64)
        let fd = listener
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                self.serve(client)
            }
        }
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        resetAll()
    }

    /// Resets every link now (RST to both ends): the network dropped the connection.
    func resetAll() {
        let all = locked { () -> [(Int32, Int32)] in let l = links; links = []; return l }
        for (a, b) in all {
            for fd in [a, b] {
                var hard = linger(l_onoff: 1, l_linger: 0)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, socklen_t(MemoryLayout<linger>.size))
                shutdown(fd, Int32(SHUT_RDWR))
            }
        }
    }

    private func serve(_ client: Int32) {
        locked { accepted_ += 1 }
        if let junk = garbage {
            _ = junk.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(client)
            return
        }
        let server = ForwardTests.connectTCP(upstreamPort)
        guard server >= 0 else { close(client); return }
        locked { links.append((client, server)) }
        let limit = closeAfterServerBytes
        let done = DispatchGroup()
        done.enter()
        done.enter()
        Thread.detachNewThread { self.pump(from: client, to: server, limit: nil); done.leave() }
        Thread.detachNewThread { self.pump(from: server, to: client, limit: limit); done.leave() }
        Thread.detachNewThread {
            done.wait()
            close(client)
            close(server)
        }
    }

    private func pump(from: Int32, to: Int32, limit: Int?) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var moved = 0
        while true {
            let n = recv(from, &buffer, buffer.count, 0)
            if n <= 0 { break }
            var offset = 0
            while offset < n {
                switch mode {
                case .stall:
                    usleep(10_000)
                    continue
                case .pass:
                    var length = n - offset
                    if let limit { length = min(length, limit - moved) }
                    let w = buffer[offset..<(offset + length)].withUnsafeBytes { send(to, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if w <= 0 { return shutdown(to, Int32(SHUT_RDWR)).discard() }
                    offset += w
                    moved += w
                case .trickle(let delay):
                    let w = buffer[offset..<(offset + 1)].withUnsafeBytes { send(to, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }
                    if w <= 0 { return shutdown(to, Int32(SHUT_RDWR)).discard() }
                    offset += 1
                    moved += 1
                    usleep(delay)
                }
                if let limit, moved >= limit {
                    shutdown(to, Int32(SHUT_RDWR))
                    shutdown(from, Int32(SHUT_RDWR))
                    return
                }
            }
        }
        shutdown(to, Int32(SHUT_WR))
    }
}

private extension Int32 {
    func discard() {}
}
