/// The life of a session channel opened ahead of need, without libssh2:
/// queued -> opening -> ready -> handedOver (or failed).
///
/// An exec costs three round trips: the channel open, the exec request, the output.
/// The open does not depend on the command, so the session keeps one channel open
/// ahead; the next command adopts it and pays only the exec and its output.
public struct WarmChannelStateMachine {
    public enum State: Equatable {
        /// Waiting for the session's single channel-open slot.
        case queued
        /// channel_open("session") in flight.
        case opening
        /// Open and idle: the next command may adopt it.
        case ready
        /// A command adopted the channel; this object is done with it.
        case handedOver
        /// The open failed or the session went away; commands open their own channels.
        case failed
    }

    public enum Action: Equatable {
        case none
        /// Send channel_open("session").
        case open
        /// Give the open channel to the waiting command.
        case handOver
    }

    public private(set) var state: State = .queued

    public init() {}

    /// The open slot is free for this channel.
    public mutating func onOpenSlot() -> Action {
        switch state {
        case .queued: state = .opening; return .open                              // our turn
        case .opening, .ready, .handedOver, .failed: return .none                   // past it
        }
    }

    /// The open was confirmed.
    public mutating func onOpened() -> Action {
        switch state {
        case .opening: state = .ready; return .none                               // wait for a command
        case .queued, .ready, .handedOver, .failed: preconditionFailure("opened in \(state)") // only while opening
        }
    }

    /// A command wants a channel.
    public mutating func onAdopt() -> Action {
        switch state {
        case .ready: state = .handedOver; return .handOver                        // it is yours
        case .queued, .opening, .handedOver, .failed: return .none                 // not open (yet)
        }
    }

    /// The open failed, or the session is going away.
    public mutating func onError() -> Action {
        switch state {
        case .queued, .opening, .ready: state = .failed; return .none             // stop being the spare
        case .handedOver, .failed: return .none                                   // already done
        }
    }
}
