import CLinuxSys
import Glibc

/// Accepts connections on a listening socket and hands each new fd to `onAccept`.
///
/// Survives running out of fds without spinning: on EMFILE/ENFILE it frees a spare
/// fd to accept-and-close the pending connection (libuv's `uv__emfile_trick`), then
/// stops listening for a pause (nginx and SwiftNIO's AcceptBackoffHandler).
public final class Listener: IOHandler {
    /// Accepts per wakeup, so a connection storm cannot starve the other fds
    /// (Redis: max-new-connections-per-cycle is 10; libuv loops until EAGAIN).
    static let acceptsPerWakeup = 64
    /// How long to stop accepting after EMFILE (SwiftNIO waits 1 s, nginx 500 ms).
    static let emfileBackoff: UInt64 = .milliseconds(500)

    public let fd: Int32
    public let port: Int
    private unowned let loop: EventLoop
    private var token: Token?
    private var spareFD: Int32
    private let onAccept: (Int32) -> Void
    private lazy var resumeTimer = loop.makeTimer { [unowned self] in self.resume() }
    public private(set) var acceptFailures = 0

    public init(loop: EventLoop, host: String, port: Int, backlog: Int32 = 1024,
                onAccept: @escaping (Int32) -> Void) throws {
        fd = try Socket.listen(host: host, port: port, backlog: backlog)
        self.port = Socket.localPort(fd)
        self.loop = loop
        self.onAccept = onAccept
        spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        token = loop.register(fd: fd, interest: .read, handler: self)
    }

    public func close() {
        if let token { loop.unregister(token) }
        token = nil
        loop.disarm(resumeTimer)
        Socket.close(fd)
        if spareFD >= 0 { Socket.close(spareFD) }
        spareFD = -1
    }

    public func handleIO(_ events: IOEvents) {
        for _ in 0..<Self.acceptsPerWakeup {
            let client = csys_accept4(fd, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
            if client >= 0 {
                Socket.setNoDelay(client)
                onAccept(client)
                continue
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK:
                return
            case EINTR, ECONNABORTED, EPROTO:
                continue
            case EMFILE, ENFILE:
                acceptFailures += 1
                shedOnePending()
                pause()
                return
            default:
                acceptFailures += 1
                pause()
                return
            }
        }
    }

    private func shedOnePending() {
        guard spareFD >= 0 else { return }
        Socket.close(spareFD)
        let victim = csys_accept4(fd, Int32(SOCK_CLOEXEC.rawValue))
        if victim >= 0 { Socket.close(victim) }
        spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    private func pause() {
        guard let token else { return }
        loop.setInterest(token, [])
        loop.arm(resumeTimer, after: Self.emfileBackoff)
    }

    private func resume() {
        guard let token else { return }
        loop.setInterest(token, .read)
    }
}
