import CLibSSH2
import Reactor

/// What a finished remote command produced.
public struct ExecResult: Sendable {
    public var exitStatus: Int32
    /// The signal that ended the command, if one did ("TERM", "KILL").
    public var exitSignal: String?
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// True when output passed the cap and the rest was dropped.
    public var truncated: Bool
    /// Time from sending CHANNEL_OPEN to its confirmation: one SSH round trip.
    public var openLatencyNs: UInt64

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

/// The driver of one exec channel: performs what `ExecStateMachine` asks with
/// libssh2 calls, on behalf of the session's pump. Never touches the socket itself.
final class ExecChannel {
    /// Bytes read per libssh2 call (notes §1.4: >= 64 KiB reads).
    static let readChunk = 64 * 1024

    let command: String?
    let outputCap: Int
    var machine: ExecStateMachine
    private(set) var channel: OpaquePointer?
    private var result = ExecResult(exitStatus: 0, exitSignal: nil, stdout: [], stderr: [], truncated: false, openLatencyNs: 0)
    private var openStartedAt: UInt64 = 0
    private let completion: (Result<ExecResult, SSHError>) -> Void
    var timer: Reactor.Timer?
    /// The session pumping this channel (for refused opens: is a slot busy, retry later).
    weak var owner: SSHSession?

    init(command: String?, outputCap: Int, completion: @escaping (Result<ExecResult, SSHError>) -> Void) {
        self.command = command
        self.outputCap = outputCap
        self.completion = completion
        machine = ExecStateMachine(hasCommand: command != nil)
    }

    var isOpening: Bool { machine.state == .opening }
    var isFinished: Bool { machine.state == .finished }
    /// Holds (or is about to hold) one of the server's session slots.
    var holdsSessionSlot: Bool {
        switch machine.state {
        case .opening, .starting, .reading, .closing: return true
        case .queued, .refused, .finished: return false
        }
    }

    /// The wait after a refused open ran out: it queues again.
    func slotFreed() { perform(machine.onSlotFreed()) }

    /// Runs the current state's libssh2 call, and the next ones, until blocked or done.
    func step(session: OpaquePointer, buffer: UnsafeMutableRawBufferPointer) -> ChannelStep {
        while true {
            switch machine.state {
            case .queued, .refused:
                return .blocked(ownsSendSlot: false)
            case .opening:
                if openStartedAt == 0 { openStartedAt = MonotonicClock.now() }
                guard let ch = cssh2_channel_open_session(session) else {
                    let code = cssh2_last_errno(session)
                    if code == LIBSSH2_ERROR_EAGAIN { return blocked(session) }
                    let error = SSHError.libssh2(call: "channel_open", code: code, message: SSHSession.lastError(session))
                    openStartedAt = 0
                    perform(code == LIBSSH2_ERROR_CHANNEL_FAILURE ? machine.onOpenRefused(error, slotBusy: owner?.sessionSlotBusy(besides: self) ?? false)
                                                                  : machine.onError(error))
                    return machine.state == .refused ? .blocked(ownsSendSlot: false) : .done
                }
                channel = ch
                result.openLatencyNs = MonotonicClock.now() - openStartedAt
                perform(machine.onOpened())
            case .starting:
                let cmd = command!
                let rc = cmd.withCString { cssh2_channel_exec(channel, $0, UInt32(cmd.utf8.count)) }
                if rc == LIBSSH2_ERROR_EAGAIN { return blocked(session) }
                if rc < 0 {
                    perform(machine.onError(.libssh2(call: "channel_exec", code: rc, message: SSHSession.lastError(session))))
                    return .done
                }
                perform(machine.onStarted())
            case .reading:
                if machine.reported {
                    perform(machine.onAbandonWhileReading())
                    continue
                }
                // stderr masks EOF while unread (notes §1.3 rule 6): drain both streams.
                let out = drain(stream: 0, into: \.stdout, buffer: buffer)
                let err = drain(stream: 1, into: \.stderr, buffer: buffer)
                if case .failure(let e) = out { perform(machine.onError(e)); return .done }
                if case .failure(let e) = err { perform(machine.onError(e)); return .done }
                if libssh2_channel_eof(channel) == 1 {
                    perform(machine.onEOF())
                    continue
                }
                return blocked(session)
            case .closing:
                let rc = libssh2_channel_close(channel)
                if rc == LIBSSH2_ERROR_EAGAIN { return blocked(session) }
                if rc == 0 {
                    result.exitStatus = libssh2_channel_get_exit_status(channel)
                    result.exitSignal = exitSignal()
                }
                libssh2_channel_free(channel)
                channel = nil
                perform(rc == 0 ? machine.onClosed()
                                : machine.onError(.libssh2(call: "channel_close", code: rc, message: SSHSession.lastError(session))))
                return .done
            case .finished:
                return .done
            }
        }
    }

    /// Takes the session's warm channel: the exec request goes out without an open.
    func adopt(_ warm: OpaquePointer) {
        channel = warm
        perform(machine.onAdopted())
    }

    /// The session died or is being torn down: report, and forget the channel
    /// (session_free releases it).
    func abort(_ error: SSHError) {
        channel = nil
        perform(machine.onError(error))
    }

    func timedOut() { perform(machine.onTimeout()) }

    private func blocked(_ session: OpaquePointer) -> ChannelStep {
        .blocked(in: session)
    }

    /// Reads one stream until EAGAIN; output past the cap is read and dropped so the
    /// window keeps moving and EOF can show.
    private func drain(stream: Int32, into keyPath: WritableKeyPath<ExecResult, [UInt8]>,
                       buffer: UnsafeMutableRawBufferPointer) -> Result<Void, SSHError> {
        while true {
            let n = libssh2_channel_read_ex(channel, stream, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
            if n == Int(LIBSSH2_ERROR_EAGAIN) || n == 0 { return .success(()) }
            if n < 0 { return .failure(.libssh2(call: "channel_read", code: Int32(n), message: "read failed")) }
            let room = outputCap - result.stdout.count - result.stderr.count
            if room > 0 {
                result[keyPath: keyPath].append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<min(n, room)]))
            }
            if n > room { result.truncated = true }
        }
    }

    private func exitSignal() -> String? {
        var name: UnsafeMutablePointer<CChar>?
        var nameLen = 0
        guard libssh2_channel_get_exit_signal(channel, &name, &nameLen, nil, nil, nil, nil) == 0, let name else { return nil }
        defer { free(name) }
        return String(cString: name)
    }

    private func perform(_ action: ExecStateMachine.Action) {
        switch action {
        case .none, .open, .exec, .read, .close: break     // the step loop runs these
        case .retryOpen(let ms): owner?.retryOpen(self, afterMs: ms)
        case .complete: finish(.success(result))
        case .fail(let error): finish(.failure(error))
        }
    }

    private func finish(_ outcome: Result<ExecResult, SSHError>) {
        completion(outcome)
    }
}
