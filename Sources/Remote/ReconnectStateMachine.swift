/// Logging in again after a connection's SSH session died, without sockets: when to
/// try, when to stop. The driver (ConnectionRegistry+Reconnect) owns the timer and the
/// new session.
///
/// Only key and agent logins come back on their own: a password login may go through
/// keyboard-interactive with a second factor, and a new login must never prompt anyone
/// (the same rule as the tunnel's extra sessions).
public struct ReconnectStateMachine {
    public enum State: Equatable {
        /// The session is up (or never reconnects: a password login).
        case idle
        /// Waiting before attempt number `attempt` (1-based); `since` is when the session died.
        case waiting(attempt: Int, since: UInt64)
        /// Attempt `attempt` is logging in.
        case connecting(attempt: Int, since: UInt64)
        /// No more attempts: `reason` says why.
        case gaveUp(reason: String)
    }

    public enum Action: Equatable {
        case none
        /// Arm the timer for the next attempt.
        case wait(ms: Int)
        /// Log in again now (same target, credentials and pinned host key).
        case connect
        /// The new session is up: take it, restore forwards and the viewer.
        case restore
        /// Stop trying; the connection stays disconnected.
        case giveUp(String)
    }

    /// First wait after a loss: a restarting sshd or a dropped Wi-Fi is usually back
    /// within a second or two.
    static let firstDelayMs = 500
    /// Waits double up to this (as autossh's gate time keeps a dead server from being hammered).
    static let maxDelayMs = 30_000
    /// How long to keep trying after the loss: a laptop lid closed over lunch is gone
    /// longer, and then the user reconnects by hand (the API's POST /connect).
    static let giveUpAfterMs = 10 * 60 * 1000

    public private(set) var state: State = .idle
    let enabled: Bool

    /// `enabled`: the login can be repeated without asking anyone (key or agent).
    public init(enabled: Bool) { self.enabled = enabled }

    static func delay(before attempt: Int) -> Int { min(firstDelayMs << min(attempt - 1, 16), maxDelayMs) }

    public var isTrying: Bool {
        switch state {
        case .waiting, .connecting: return true
        case .idle, .gaveUp: return false
        }
    }

    /// The session died at `now` (monotonic ns).
    public mutating func onLost(now: UInt64) -> Action {
        switch state {
        case .idle:
            guard enabled else { state = .gaveUp(reason: "a password login is not repeated"); return .none } // never prompts
            state = .waiting(attempt: 1, since: now); return .wait(ms: Self.delay(before: 1))            // first try soon
        case .waiting, .connecting, .gaveUp: return .none                                              // already handled
        }
    }

    /// The wait is over.
    public mutating func onTimer() -> Action {
        switch state {
        case .waiting(let attempt, let since): state = .connecting(attempt: attempt, since: since); return .connect // try
        case .idle, .connecting, .gaveUp: return .none                                                               // stale timer
        }
    }

    /// The attempt failed at `now`; `retryable` is false when trying again cannot help
    /// (credentials refused, host key changed: never log in past a changed host key).
    public mutating func onAttemptFailed(_ reason: String, retryable: Bool, now: UInt64) -> Action {
        switch state {
        case .connecting(let attempt, let since):
            guard retryable else { state = .gaveUp(reason: reason); return .giveUp(reason) }                // pointless or unsafe
            guard now &- since < UInt64(Self.giveUpAfterMs) * 1_000_000 else {
                state = .gaveUp(reason: reason); return .giveUp(reason)                                       // out of time
            }
            state = .waiting(attempt: attempt + 1, since: since); return .wait(ms: Self.delay(before: attempt + 1)) // again later
        case .idle, .waiting, .gaveUp: return .none                                                          // stale
        }
    }

    /// The attempt logged in.
    public mutating func onAttemptSucceeded() -> Action {
        switch state {
        case .connecting: state = .idle; return .restore   // back
        case .idle, .waiting, .gaveUp: return .none         // stale (cancelled meanwhile)
        }
    }

    /// The user deleted the connection (or the daemon stops).
    public mutating func onCancel() {
        state = .gaveUp(reason: "cancelled")
    }
}
