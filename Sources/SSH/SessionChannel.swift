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
