import CLinuxSys
import Glibc

/// SIGINT/SIGTERM delivered as a readable signalfd in the loop, so shutdown starts
/// on the loop thread like any other event. The signals are blocked process-wide
/// (call `blockShutdownSignals` before starting any other thread).
public final class SignalSource: IOHandler {
    private let fd: Int32
    private var token: Token?
    private unowned let loop: EventLoop
    private let onSignal: (Int32) -> Void

    public static let shutdownSignals: [Int32] = [SIGINT, SIGTERM]

    /// Blocks the shutdown signals for this thread and the threads it creates later.
    public static func blockShutdownSignals() {
        var set = sigset_t()
        _ = shutdownSignals.withUnsafeBufferPointer {
            csys_block_signals($0.baseAddress, Int32($0.count), &set)
        }
        csys_ignore_sigpipe()
    }

    public init(loop: EventLoop, onSignal: @escaping (Int32) -> Void) throws {
        var set = sigset_t()
        sigemptyset(&set)
        for s in Self.shutdownSignals { sigaddset(&set, s) }
        fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard fd >= 0 else { throw SystemError.call("signalfd", errno) }
        self.loop = loop
        self.onSignal = onSignal
        token = loop.register(fd: fd, interest: .read, handler: self)
    }

    public func close() {
        if let token { loop.unregister(token) }
        token = nil
        Socket.close(fd)
    }

    public func handleIO(_ events: IOEvents) {
        var info = signalfd_siginfo()
        while Glibc.read(fd, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size {
            onSignal(Int32(info.ssi_signo))
        }
    }
}
