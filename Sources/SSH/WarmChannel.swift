import CLibSSH2
import Reactor

/// The driver of the session's one warm channel (see `WarmChannelStateMachine`):
/// opens a session channel when the pump grants the open slot, then holds it idle
/// until an `ExecChannel` adopts it.
final class WarmChannel {
    private(set) var machine = WarmChannelStateMachine()
    private var channel: OpaquePointer?
    let timer: Reactor.Timer? = nil

    var isReady: Bool { machine.state == .ready }

    /// Hands the open channel to a command; nil unless it is ready.
    func adopt() -> OpaquePointer? {
        guard machine.onAdopt() == .handOver, let ch = channel else { return nil }
        channel = nil
        return ch
    }
}

extension WarmChannel: SessionChannel {
    var needsOpenSlot: Bool { machine.state == .queued }
    var isOpening: Bool { machine.state == .opening }
    /// Leaves the pump once open: an idle channel needs no pumping, and an empty
    /// channel list is what lets the session idle (keepalives, peer-close interest).
    var isFinished: Bool { machine.state != .queued && machine.state != .opening }
    var wantsWarmChannel: Bool { false }

    func grantOpenSlot() { _ = machine.onOpenSlot() }

    func step(session: OpaquePointer, buffer: UnsafeMutableRawBufferPointer) -> ChannelStep {
        guard machine.state == .opening else { return .blocked(ownsSendSlot: false) }
        guard let ch = cssh2_channel_open_session(session) else {
            let code = cssh2_last_errno(session)
            if code == LIBSSH2_ERROR_EAGAIN {
                return .blocked(in: session)
            }
            _ = machine.onError()
            return .done
        }
        channel = ch
        _ = machine.onOpened()
        return .blocked(ownsSendSlot: false)
    }

    /// The session is going away: session_free releases the channel.
    func abort(_ error: SSHError) {
        channel = nil
        _ = machine.onError()
    }
}
