/// The life of one local client of a forward, without sockets or libssh2
/// (swift-nio-ssh's ChildChannelStateMachine): queued -> opening -> open (each
/// direction closes on its own) -> closing -> closed.
public struct TunnelStateMachine {
    public enum State: Equatable {
        /// Accepted; waiting for the session's channel-open slot.
        case queued
        /// direct-tcpip open in flight.
        case opening
        /// The client left while the open was in flight. libssh2 1.10 keeps one open's
        /// state per session: the open must be driven to its end (or the next open on the
        /// session, an exec's, would resume this one and hang), then the channel closed.
        case openAbandoned
        /// Bytes flow; `upstream` is client -> remote (ends with our EOF to the channel),
        /// `downstream` remote -> client (ends with shutdown(SHUT_WR) on the client).
        case open(upstream: Bool, downstream: Bool)
        /// channel_close waits for the remote CLOSE.
        case closing
        /// Gone; the client socket is closed.
        case closed
    }

    public enum Action: Equatable {
        case none
        /// Open the direct-tcpip channel.
        case open
        /// Start pumping both ways.
        case pump
        /// Close the channel (the client socket closes after it).
        case closeChannel
        /// Close the client socket; no channel is left.
        case closeClient
    }

    public private(set) var state: State = .queued

    public init() {}

    /// Our turn to open a channel.
    public mutating func onOpenSlot() -> Action {
        switch state {
        case .queued: state = .opening; return .open                        // open now
        case .opening, .openAbandoned, .open, .closing, .closed: return .none // not waiting
        }
    }

    /// The channel is open.
    public mutating func onOpened() -> Action {
        switch state {
        case .opening: state = .open(upstream: true, downstream: true); return .pump // both ways
        case .openAbandoned: state = .closing; return .closeChannel          // client left meanwhile
        case .queued, .open, .closing, .closed: preconditionFailure("opened in \(state)") // one open
        }
    }

    /// The server refused the channel (target down, forwarding disabled) or it errored.
    public mutating func onChannelFailed() -> Action {
        switch state {
        case .queued, .opening, .openAbandoned, .open: state = .closed; return .closeClient // nothing to close remotely
        case .closing: state = .closed; return .closeClient                   // close gave up
        case .closed: return .none                                            // already gone
        }
    }

    /// Our EOF went to the channel after the client's FIN and all its bytes.
    public mutating func onUpstreamDone() -> Action {
        switch state {
        case .open(_, let down):
            if !down { state = .closing; return .closeChannel }              // both ways done
            state = .open(upstream: false, downstream: true); return .none    // half-closed
        case .queued, .opening, .openAbandoned, .closing, .closed: return .none // nothing flowing
        }
    }

    /// The channel's EOF reached the client (all bytes written, then SHUT_WR).
    public mutating func onDownstreamDone() -> Action {
        switch state {
        case .open(let up, _):
            if !up { state = .closing; return .closeChannel }                 // both ways done
            state = .open(upstream: true, downstream: false); return .none    // half-closed
        case .queued, .opening, .openAbandoned, .closing, .closed: return .none // nothing flowing
        }
    }

    /// The client reset or its socket failed: drop this client only.
    public mutating func onClientError() -> Action {
        switch state {
        case .queued: state = .closed; return .closeClient                    // never opened
        case .opening: state = .openAbandoned; return .none                  // close once the open ends
        case .open: state = .closing; return .closeChannel                   // tear down the channel
        case .openAbandoned, .closing, .closed: return .none                 // already going
        }
    }

    /// The channel finished closing.
    public mutating func onChannelClosed() -> Action {
        switch state {
        case .closing: state = .closed; return .closeClient                  // all done
        case .queued, .opening, .openAbandoned, .open, .closed: return .none // not closing
        }
    }

    /// The session is gone.
    public mutating func onSessionLost() -> Action {
        switch state {
        case .closed: return .none                                           // already gone
        case .queued, .opening, .openAbandoned, .open, .closing: state = .closed; return .closeClient // drop it
        }
    }
}
