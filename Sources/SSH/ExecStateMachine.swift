/// The life of one remote command on an exec channel, without libssh2:
/// queued -> opening -> starting -> reading -> closing -> finished
/// (queued -> starting when it adopts the session's warm channel; opening -> refused ->
/// queued when the server refused the open while one of our session channels held, or
/// had just given back, its last session slot, e.g. `MaxSessions 1`).
public struct ExecStateMachine {
    public enum State: Equatable {
        /// Waiting for the session's single channel-open slot (libssh2 1.10 opens one at a time).
        case queued
        /// channel_open("session") in flight.
        case opening
        /// The server refused the open while a session channel of ours held a slot, or had
        /// just closed (sshd frees it a loop later): queues again after a short wait.
        case refused
        /// exec request in flight.
        case starting
        /// Draining stdout and stderr until the remote EOF.
        case reading
        /// channel_close waits for the remote CLOSE; the exit status follows.
        case closing
        /// Done; the channel is freed.
        case finished
    }

    public enum Action: Equatable {
        case none
        case open
        case exec
        case read
        case close
        /// Report the result (once) and free the channel.
        case complete
        /// Report the failure (once); close the channel if one is open.
        case fail(SSHError)
        /// Queue the open again after this many milliseconds.
        case retryOpen(afterMs: Int)
    }

    /// Refused opens tried again, and the first wait (doubling): 25 + 50 + 100 ms cover
    /// sshd freeing a closed session's slot on its next loop, even over a slow link.
    static let maxOpenRetries = 3
    static let firstRetryMs = 25

    /// nil: open and close only (ping measures the open round trip).
    public let hasCommand: Bool
    public private(set) var state: State = .queued
    /// Set once the outcome was reported (a timeout reports early; cleanup goes on).
    public private(set) var reported = false
    /// Opens the server refused so far.
    public private(set) var openRefusals = 0

    public init(hasCommand: Bool) { self.hasCommand = hasCommand }

    /// The open slot is free for this channel.
    public mutating func onOpenSlot() -> Action {
        switch state {
        case .queued: state = .opening; return .open                      // our turn
        case .opening, .refused, .starting, .reading, .closing, .finished: return .none // not waiting for it
        }
    }

    /// The command takes the session's warm channel (already open) instead of opening one.
    public mutating func onAdopted() -> Action {
        switch state {
        case .queued:
            precondition(hasCommand, "ping measures an open; it never adopts")
            state = .starting; return .exec                                // skip the open round trip
        case .opening, .refused, .starting, .reading, .closing, .finished:
            preconditionFailure("adopted in \(state)")                     // only while queued
        }
    }

    /// The channel is open.
    public mutating func onOpened() -> Action {
        switch state {
        case .opening:
            if hasCommand && !reported { state = .starting; return .exec } // run the command
            state = .closing
            if !hasCommand && !reported { reported = true; return .complete } // ping: the open was the round trip; close after telling
            return .close                                                  // abandoned: close
        case .queued, .refused, .starting, .reading, .closing, .finished:
            preconditionFailure("opened in \(state)")                      // only after open
        }
    }

    /// The exec request was accepted.
    public mutating func onStarted() -> Action {
        switch state {
        case .starting: state = .reading; return .read                     // collect output
        case .queued, .opening, .refused, .reading, .closing, .finished:
            preconditionFailure("started in \(state)")                     // only after exec
        }
    }

    /// stdout and stderr both reached EOF.
    public mutating func onEOF() -> Action {
        switch state {
        case .reading: state = .closing; return .close                     // collect the exit status
        case .queued, .opening, .refused, .starting, .closing, .finished:
            preconditionFailure("EOF in \(state)")                         // only while reading
        }
    }

    /// The remote CLOSE arrived.
    public mutating func onClosed() -> Action {
        switch state {
        case .closing:
            state = .finished
            if reported { return .none }                                   // outcome already told
            reported = true; return .complete                              // tell it
        case .queued, .opening, .refused, .starting, .reading, .finished:
            preconditionFailure("closed in \(state)")                      // only while closing
        }
    }

    /// The server refused the channel open (CHANNEL_OPEN_FAILURE). `slotBusy`: a session
    /// channel of ours holds a slot or just closed, so one may free soon (sshd's
    /// MaxSessions counts a closed channel until its next loop collects it).
    public mutating func onOpenRefused(_ error: SSHError, slotBusy: Bool) -> Action {
        switch state {
        case .opening:
            if slotBusy && !reported && openRefusals < Self.maxOpenRetries {
                openRefusals += 1
                state = .refused
                return .retryOpen(afterMs: Self.firstRetryMs << (openRefusals - 1)) // wait for a slot
            }
            state = .finished
            if reported { return .none }
            reported = true; return .fail(error)                           // nothing to wait for
        case .queued, .refused, .starting, .reading, .closing, .finished:
            preconditionFailure("open refused in \(state)")                // only while opening
        }
    }

    /// The wait after a refused open ran out: queue the open again.
    public mutating func onSlotFreed() -> Action {
        switch state {
        case .refused: state = .queued; return .none                       // queue again
        case .queued, .opening, .starting, .reading, .closing, .finished: return .none // not waiting
        }
    }

    /// A libssh2 call failed, or the session went away.
    public mutating func onError(_ error: SSHError) -> Action {
        let wasReported = reported
        reported = true
        switch state {
        case .finished: return .none                                       // nothing left
        case .queued, .opening, .refused, .starting, .reading, .closing:
            state = .finished
            return wasReported ? .none : .fail(error)                      // tell once
        }
    }

    /// The command's deadline passed: report now; the channel is cleaned up as it goes.
    public mutating func onTimeout() -> Action {
        switch state {
        case .finished: return .none                                       // too late to matter
        case .queued, .refused:                                            // never opened
            state = .finished; reported = true; return .fail(.timeout(phase: "command"))
        case .opening, .starting, .reading, .closing:
            guard !reported else { return .none }
            reported = true; return .fail(.timeout(phase: "command"))      // report, keep cleaning up
        }
    }

    /// After a timeout the command's output no longer matters: stop reading and close.
    public mutating func onAbandonWhileReading() -> Action {
        switch state {
        case .reading:
            guard reported else { return .none }                          // still wanted
            state = .closing; return .close                                // skip the rest
        case .queued, .opening, .refused, .starting, .closing, .finished: return .none // not reading
        }
    }
}
