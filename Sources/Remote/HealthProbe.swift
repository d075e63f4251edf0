import Glibc
import Reactor

/// One HTTP GET to a loopback port, on the reactor: proves that bytes go through a
/// forward and that what answers is an HTTP server (the viewer's `tunnel_active`).
final class HealthProbe: IOHandler {
    /// Bytes of the response kept: the status line is all the probe needs.
    static let maxResponseHead = 4096

    private unowned let loop: EventLoop
    private var fd: Int32 = -1
    private var token: Token?
    private var request: [UInt8]
    private var response: [UInt8] = []
    private var done: ((Int?) -> Void)?
    private var timer: Reactor.Timer?

    /// Calls `done` with the HTTP status, or nil (refused, closed, timed out, not HTTP).
    static func get(loop: EventLoop, port: Int, path: String, timeoutMs: Int, _ done: @escaping (Int?) -> Void) {
        let probe = HealthProbe(loop: loop, path: path, done: done)
        probe.start(port: port, timeoutMs: timeoutMs)
    }

    private init(loop: EventLoop, path: String, done: @escaping (Int?) -> Void) {
        self.loop = loop
        self.done = done
        request = Array("GET \(path) HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
    }

    private func start(port: Int, timeoutMs: Int) {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: &addr) { dst.copyMemory(from: $0) } }
        guard let (newFD, result) = try? Socket.connect(to: SocketAddress(family: AF_INET, storage: storage,
                                                                        length: socklen_t(MemoryLayout<sockaddr_in>.size))) else {
            return finish(nil)
        }
        fd = newFD
        if case .error = result { return finish(nil) }
        // The timer's closure keeps the probe alive until it finishes (the heap holds
        // the timer until its deadline); `finish` drops the timer, ending the cycle.
        let t = loop.makeTimer { [self] in self.finish(nil) }
        timer = t
        loop.arm(t, after: .milliseconds(timeoutMs))
        token = loop.register(fd: fd, interest: .write, handler: self)
    }

    func handleIO(_ events: IOEvents) {
        if !request.isEmpty {
            if Socket.connectError(fd) != 0 { return finish(nil) }
            switch request.withUnsafeBytes({ Socket.write(fd, $0) }) {
            case .bytes(let n): request.removeFirst(n)
            case .wouldBlock: return
            case .eof, .error: return finish(nil)
            }
            if request.isEmpty, let token { loop.setInterest(token, .read) }
            return
        }
        var buf = [UInt8](repeating: 0, count: 2048)
        let r = buf.withUnsafeMutableBytes { Socket.read(fd, into: $0) }
        switch r {
        case .bytes(let n):
            response.append(contentsOf: buf[0..<n])
            if let status = HealthProbe.status(response) { return finish(status) }
            if response.count > Self.maxResponseHead { return finish(nil) }
        case .wouldBlock: return
        case .eof, .error: finish(HealthProbe.status(response))
        }
    }

    /// The status code of "HTTP/1.x NNN ..." once the status line is complete.
    static func status(_ bytes: [UInt8]) -> Int? {
        guard let eol = bytes.firstIndex(of: 10) else { return nil }
        let line = String(decoding: bytes[..<eol], as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]), (100...599).contains(code) else { return nil }
        return code
    }

    private func finish(_ status: Int?) {
        guard let done else { return }
        self.done = nil
        if let timer { loop.disarm(timer) }
        timer = nil
        if let token { loop.unregister(token) }
        token = nil
        if fd >= 0 { Socket.close(fd) }
        fd = -1
        done(status)
    }
}
