/// The life of one remote Runicorn viewer, without sockets or SSH: launched by one
/// remote command, then probed through its tunnel until it answers HTTP.
public struct ViewerStateMachine {
    public enum State: Equatable {
        /// The launch command is running on the server.
        case launching
        /// Launched; probing through the tunnel, `attempt` probes failed so far.
        case waiting(attempt: Int)
        /// Answered HTTP through the tunnel.
        case running
        /// A stop arrived while the launch command ran: it waits for the launch's answer
        /// (the process id) to end what was launched.
        case stopAwaitingLaunch
        /// The stop command is running.
        case stopping
        /// Stopped on request.
        case stopped
        /// The connection was lost while it ran: out of reach, its process probably still
        /// running on the server; a reconnect takes it back.
        case unreachable(reason: String)
        /// Did not come up, or died later; `reason` says how.
        case failed(reason: String)
    }

    public enum Action: Equatable {
        case none
        /// Probe again after this many milliseconds.
        case probe(afterMs: Int)
        /// Ask the server whether the process is still alive.
        case checkProcess
        /// The viewer serves: answer the start request.
        case reportStarted
        /// Start failed: kill what was launched, close the tunnel, answer with the reason.
        case failStart(String)
        /// As `failStart`, with the viewer's last log lines read first: a viewer that is
        /// alive but silent says in its log why (the error carries its log tail, decisions.md).
        case failStartWithLog(String)
        /// A running viewer died: close its tunnel.
        case closeTunnel
        /// Stop: close the tunnel, end the process (stop command), answer the stop requests.
        case endProcess
        /// A stop overtook the start: answer the start request with this failure, then
        /// carry the stop through as `endProcess`.
        case abortStart(String)
        /// The stop waits for the launch command's answer.
        case awaitLaunch
        /// Back after a reconnect: listen on the same local port again, then probe.
        case reopenTunnel
        /// The stop cannot reach the server: answer it with this failure; nothing changes.
        case refuseStop(String)
    }

    /// What the start request hears when a stop overtakes it.
    static let stoppedWhileStarting = "the viewer was stopped before it started"

    /// Probe delays: the first probe goes at once, the retries wait 50 ms, then 100 ms
    /// (the cap) each (25 ms doubled per failed probe), so a viewer is seen within ~0.1 s
    /// of being ready, without fixed sleeps. A probe costs one HTTP
    /// GET through the tunnel; the cap was 500 ms until the round-trip benchmark showed
    /// it alone added up to half a second to a 1.3 s start (Benchmarks/results).
    static let firstBackoffMs = 25
    static let maxBackoffMs = 100
    /// Every this many failed probes, check the process is still alive (a dead viewer
    /// fails the start at once instead of at the timeout).
    static let checkEvery = 4

    public private(set) var state: State = .launching
    /// Taken back after a reconnect or from the ledger: it was running before, so a
    /// process found dead exited while running, not while starting.
    private var takenBack = false

    public init() {}

    static func backoff(_ attempt: Int) -> Int { min(firstBackoffMs << min(attempt, 10), maxBackoffMs) }

    public var isActive: Bool {
        switch state {
        case .launching, .waiting, .running, .stopAwaitingLaunch, .stopping: return true
        case .stopped, .failed, .unreachable: return false
        }
    }

    /// The launch command printed the process id and port.
    public mutating func onLaunched() -> Action {
        switch state {
        case .launching: state = .waiting(attempt: 0); return .probe(afterMs: 0)   // probe at once
        case .stopAwaitingLaunch:
            state = .stopping; return .abortStart(Self.stoppedWhileStarting)          // end it now
        case .waiting, .running, .stopping, .stopped, .failed, .unreachable: return .none // stale
        }
    }

    /// The launch command failed (no python, no port, cannot fork).
    public mutating func onLaunchFailed(_ reason: String) -> Action {
        switch state {
        case .launching: state = .failed(reason: reason); return .failStart(reason) // nothing runs
        case .stopAwaitingLaunch: state = .stopping; return .abortStart(reason)     // nothing to end
        case .waiting, .running, .stopping, .stopped, .failed, .unreachable: return .none // stale
        }
    }

    /// A probe through the tunnel answered HTTP (`ok`) or not.
    public mutating func onProbe(ok: Bool) -> Action {
        switch state {
        case .waiting(let attempt):
            if ok { state = .running; return .reportStarted }                        // serving
            state = .waiting(attempt: attempt + 1)
            if (attempt + 1) % Self.checkEvery == 0 { return .checkProcess }        // still alive?
            return .probe(afterMs: Self.backoff(attempt + 1))                         // try again
        case .launching, .running, .stopAwaitingLaunch, .stopping, .stopped, .failed, .unreachable:
            return .none                                                            // not waiting
        }
    }

    /// The server says whether the process is alive; `logTail` is its last output.
    public mutating func onProcessCheck(alive: Bool, logTail: String) -> Action {
        switch state {
        case .waiting(let attempt):
            if alive { return .probe(afterMs: Self.backoff(attempt)) }              // keep waiting
            let reason = takenBack
                ? "the viewer exited while running (found gone when its connection came back); last log lines:\n\(logTail)"
                : "the viewer exited while starting; last log lines:\n\(logTail)"
            state = .failed(reason: reason); return .failStart(reason)               // died starting
        case .running:
            if alive { return .none }                                                // fine
            state = .failed(reason: "the viewer process exited"); return .closeTunnel // died later
        case .launching, .stopAwaitingLaunch, .stopping, .stopped, .failed, .unreachable:
            return .none                                                            // not watching
        }
    }

    /// The connection's SSH session died: the viewer is out of reach, though its process
    /// may well go on running on the server.
    public mutating func onConnectionLost(_ reason: String) -> Action {
        let why = "the SSH connection was lost (\(reason)); the viewer may still be running on the server"
        switch state {
        case .running: state = .unreachable(reason: why); return .closeTunnel       // out of reach now
        case .waiting: state = .failed(reason: why); return .failStart(why)         // cannot come up
        case .launching, .stopAwaitingLaunch, .stopping, .stopped, .failed, .unreachable:
            return .none                                                            // their command fails on its own
        }
    }

    /// The connection is back: take the viewer back like a fresh start (probe through a
    /// new tunnel; a process that died meanwhile fails through the process check).
    public mutating func onReconnected() -> Action {
        switch state {
        case .unreachable: state = .waiting(attempt: 0); takenBack = true; return .reopenTunnel // reachable again
        case .launching, .waiting, .running, .stopAwaitingLaunch, .stopping, .stopped, .failed:
            return .none                                                            // nothing was cut off
        }
    }

    /// A viewer an earlier run of the daemon launched, found still running: taken back
    /// like after a reconnect (a new tunnel, then probes; a dead one fails the check).
    public mutating func onAdopted() -> Action {
        switch state {
        case .launching: state = .waiting(attempt: 0); takenBack = true; return .reopenTunnel // a fresh machine takes it
        case .waiting, .running, .stopAwaitingLaunch, .stopping, .stopped, .failed, .unreachable:
            return .none                                                            // already has a life
        }
    }

    /// The local listener for the launched viewer could not be opened.
    public mutating func onTunnelFailed(_ reason: String) -> Action {
        switch state {
        case .waiting: state = .failed(reason: reason); return .failStart(reason)   // nothing to probe
        case .launching, .running, .stopAwaitingLaunch, .stopping, .stopped, .failed, .unreachable:
            return .none                                                            // not opening one
        }
    }

    /// The start deadline passed.
    public mutating func onStartTimeout(seconds: Int) -> Action {
        switch state {
        case .launching, .waiting:
            let reason = "the viewer did not answer HTTP within \(seconds) s"
            if case .launching = state { state = .failed(reason: reason); return .failStart(reason) } // no log yet
            state = .failed(reason: reason); return .failStartWithLog(reason)        // give up, say why
        case .running, .stopAwaitingLaunch, .stopping, .stopped, .failed, .unreachable:
            return .none                                                            // too late to matter
        }
    }

    /// A stop was requested.
    public mutating func onStop() -> Action {
        switch state {
        case .launching: state = .stopAwaitingLaunch; return .awaitLaunch                    // no pid yet
        case .waiting:
            state = .stopping; return .abortStart(Self.stoppedWhileStarting)                // start overtaken
        case .running, .failed: state = .stopping; return .endProcess                        // tear down
        case .unreachable(let reason): return .refuseStop(reason)                             // cannot end it from here
        case .stopped: state = .stopping; return .endProcess                                 // again: cleanup may be asked now
        case .stopAwaitingLaunch, .stopping: return .none                                    // joins the stop in flight
        }
    }

    /// The stop command finished.
    public mutating func onStopped() {
        state = .stopped
    }
}
