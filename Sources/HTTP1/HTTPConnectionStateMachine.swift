/// The life of one HTTP/1.1 connection, without sockets: events in, actions out.
/// The driver (`HTTPConnection`) performs the actions (Hummingbird 2's
/// HTTPConnectionStateHandler.StateMachine, swift-nio-ssh's ChildChannelStateMachine).
public struct HTTPConnectionStateMachine {
    public enum State: Equatable {
        /// Waiting for the first byte of a request; the idle (or first-request) timer runs.
        case idle
        /// A request has started; the request deadline (slow-client guard) runs.
        case reading
        /// A request was dispatched; reads are paused until its response is queued.
        /// `closeAfter` is set when the peer half-closed or shutdown began meanwhile.
        case handling(closeAfter: Bool)
        /// The last response is queued and the connection closes once it is written.
        case closing
        /// Output is done and our side is shut; unread input is discarded until the peer
        /// closes or the linger timer ends it.
        case lingering
        /// The response is a stream (Server-Sent Events): its head is sent, its body goes on
        /// until the server ends it or the peer leaves; no further request is read.
        case streaming
        /// Gone; every further event is ignored.
        case closed
    }

    public enum Timer: Equatable {
        case idle, request, linger
    }

    public enum Action: Equatable {
        /// Nothing to do.
        case none
        /// (Re)arm the connection's timer for this purpose.
        case arm(Timer)
        /// Stop reading, cancel the timer and hand the request to the responder.
        case dispatch
        /// Queue `100 Continue`: the client waits for it before sending the body.
        case writeContinue
        /// Queue the response; keep the connection and go on parsing buffered input.
        case writeAndContinue
        /// Queue the response with `Connection: close`; close once written.
        case writeAndClose
        /// Queue the stream's head and keep the connection for its body.
        case writeAndStream
        /// Queue an error response (status and code for the responder) and close once written.
        case failAndClose(HTTPParseError)
        /// Shut down our write side and discard input until the peer closes.
        case linger
        /// Close now.
        case close
    }

    public private(set) var state: State = .idle

    public init() {}

    /// The first byte of a request arrived.
    public mutating func onRequestStarted() -> Action {
        switch state {
        case .idle: state = .reading; return .arm(.request)            // slow-client guard from here
        case .reading: return .none                                      // already timed
        case .handling, .closing, .lingering, .streaming, .closed:
            preconditionFailure("request started in state \(state)")     // reads are off in these
        }
    }

    /// A complete request was parsed.
    public mutating func onRequestComplete() -> Action {
        switch state {
        case .idle, .reading: state = .handling(closeAfter: false); return .dispatch // one at a time
        case .handling, .closing, .lingering, .streaming, .closed:
            preconditionFailure("request completed in state \(state)")   // parser is paused then
        }
    }

    /// A parsed head waits for `100 Continue` before its body.
    public mutating func onContinueExpected() -> Action {
        switch state {
        case .reading: return .writeContinue                             // let the body come
        case .idle, .handling, .closing, .lingering, .streaming, .closed: return .none // no body being read
        }
    }

    /// The responder produced the response; `keepAlive` is what the request asked for.
    public mutating func onResponse(keepAlive: Bool) -> Action {
        switch state {
        case .handling(let closeAfter):
            if keepAlive && !closeAfter { state = .idle; return .writeAndContinue } // keep-alive
            state = .closing; return .writeAndClose                                // last response
        case .closed: return .none                                                  // peer vanished meanwhile
        case .idle, .reading, .closing, .lingering, .streaming:
            preconditionFailure("response in state \(state)")                      // exactly one per request
        }
    }

    /// The responder answered with a stream.
    public mutating func onStreamResponse() -> Action {
        switch state {
        case .handling(closeAfter: false): state = .streaming; return .writeAndStream // body follows
        case .handling(closeAfter: true): state = .closing; return .writeAndClose     // peer gone or shutdown: head only
        case .closed: return .none                                                    // peer vanished meanwhile
        case .idle, .reading, .closing, .lingering, .streaming:
            preconditionFailure("stream response in state \(state)")                 // exactly one per request
        }
    }

    /// The server ended the stream: what is queued goes out, then the connection closes.
    public mutating func onStreamEnded() -> Action {
        switch state {
        case .streaming: state = .closing; return .writeAndClose                      // finish like a last response
        case .idle, .reading, .handling, .closing, .lingering, .closed: return .none  // no stream runs
        }
    }

    /// All queued output was written.
    public mutating func onOutputDrained() -> Action {
        switch state {
        case .idle: return .arm(.idle)                         // keep-alive wait begins
        case .closing: state = .lingering; return .linger      // half-close, let the client read
        case .reading, .handling, .lingering, .streaming, .closed: return .none // nothing waits on output
        }
    }

    /// The request could not be parsed or broke a limit.
    public mutating func onParseError(_ error: HTTPParseError) -> Action {
        switch state {
        case .idle, .reading: state = .closing; return .failAndClose(error) // answer, then close
        case .handling, .closing, .lingering, .streaming, .closed: return .none // parser is not running then
        }
    }

    /// The peer closed its write side (read returned 0).
    public mutating func onPeerEOF() -> Action {
        switch state {
        case .idle, .reading, .lingering: state = .closed; return .close    // nothing more can come
        case .streaming: state = .closed; return .close                     // the reader left
        case .handling: state = .handling(closeAfter: true); return .none   // answer, then close
        case .closing: return .none                                         // already finishing
        case .closed: return .none                                          // already gone
        }
    }

    /// The socket failed (reset, write error): nothing can be delivered any more.
    public mutating func onSocketError() -> Action {
        switch state {
        case .closed: return .none                                          // already gone
        case .idle, .reading, .handling, .closing, .lingering, .streaming: state = .closed; return .close
        }
    }

    /// The connection's timer fired.
    public mutating func onTimeout() -> Action {
        switch state {
        case .idle: state = .closed; return .close           // idle keep-alive ends
        case .reading: state = .closed; return .close        // slow client: head/body too late
        case .closing: state = .closed; return .close        // peer never read the response
        case .lingering: state = .closed; return .close      // linger over
        case .handling, .streaming, .closed: return .none    // no timer runs in these
        }
    }

    /// Graceful shutdown began: finish what is in flight, take nothing new.
    public mutating func onShutdown() -> Action {
        switch state {
        case .idle: state = .closed; return .close                            // nothing in flight
        case .reading: state = .closed; return .close                         // partial request dropped
        case .handling: state = .handling(closeAfter: true); return .none     // answer it, then close
        case .streaming: state = .closed; return .close                       // a stream has no end to wait for
        case .closing, .lingering, .closed: return .none                      // already finishing
        }
    }

    /// Marks the driver's close as done.
    public mutating func onClosed() {
        state = .closed
    }
}
