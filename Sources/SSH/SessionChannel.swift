import CLibSSH2
import Reactor

/// What one pump call of a channel ended with.
enum ChannelStep: Equatable {
    /// Nothing more until the sockets move; `ownsSendSlot` when libssh2 holds a
    /// half-sent packet of this channel's (libssh2 1.10: that op goes next, alone).
    case blocked(ownsSendSlot: Bool)
    /// A per-pass byte budget ran out with work left: pump again before sleeping.
    case budgetExhausted
    case done
}

/// True when libssh2 holds a half-sent packet of this session (it asked to wait for
/// the socket to take more): the call that started it goes next, alone.
func libssh2SendBlocked(_ session: OpaquePointer) -> Bool {
    libssh2_session_block_directions(session) & cssh2_block_outbound() != 0
}

extension ChannelStep {
    /// Waiting on the sockets; owning the send slot when libssh2 holds a half-sent packet.
    static func blocked(in session: OpaquePointer) -> ChannelStep {
        .blocked(ownsSendSlot: libssh2SendBlocked(session))
    }
}

/// Anything the session pump drives: exec channels and tunnel clients.
protocol SessionChannel: AnyObject {
    /// Waiting for the session's single channel-open slot.
    var needsOpenSlot: Bool { get }
    var isOpening: Bool { get }
    /// Takes the session's warm channel rather than opening its own (commands do).
    var wantsWarmChannel: Bool { get }
    var isFinished: Bool { get }
    var timer: Reactor.Timer? { get }
    func grantOpenSlot()
    func step(session: OpaquePointer, buffer: UnsafeMutableRawBufferPointer) -> ChannelStep
    /// The session is gone: report and drop the channel (session_free releases it).
    func abort(_ error: SSHError)
}

extension ExecChannel: SessionChannel {
    var needsOpenSlot: Bool { machine.state == .queued }
    var wantsWarmChannel: Bool { command != nil }
    func grantOpenSlot() { _ = machine.onOpenSlot() }
}
