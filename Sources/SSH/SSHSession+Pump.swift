import CLibSSH2
import Reactor

/// The per-session pump (notes §7.3): one place that calls libssh2 for the session's
/// channels, honouring libssh2 1.10's rules: one half-sent packet per session (the
/// send owner goes first and alone), one channel open at a time (FIFO), and every
/// channel serviced after any call, since any call may park data for the others.
extension SSHSession {
    /// Runs `command` remotely; `done` runs once on the loop thread.
    public func exec(_ command: String, timeoutMs: Int, outputCap: Int = SSHSession.defaultOutputCap,
                     _ done: @escaping (Result<ExecResult, SSHError>) -> Void) {
        enqueue(ExecChannel(command: command, outputCap: outputCap, completion: done), timeoutMs: timeoutMs)
    }

    /// One measured SSH round trip: a session channel's open and its confirmation.
    public func ping(timeoutMs: Int, _ done: @escaping (Result<Double, SSHError>) -> Void) {
        enqueue(ExecChannel(command: nil, outputCap: 0) { result in
            done(result.map { Double($0.openLatencyNs) / 1e6 })
        }, timeoutMs: timeoutMs)
    }

    private func enqueue(_ channel: ExecChannel, timeoutMs: Int) {
        guard isReady else {
            channel.abort(closedError ?? .disconnected("the SSH session is not connected"))
            return
        }
        let timer = loop.makeTimer { [weak self, unowned channel] in
            channel.timedOut()
            self?.schedulePump()
        }
        channel.timer = timer
        loop.arm(timer, after: .milliseconds(timeoutMs))
        channels.append(channel)
        schedulePump()
    }

    /// Pumps after the current event batch (coalesces many requests into one pass).
    func schedulePump() {
        guard !pumpScheduled else { return }
        pumpScheduled = true
        loop.runBeforeSleep { [weak self] in
            guard let self else { return }
            self.pumpScheduled = false
            self.pump()
        }
    }

    /// Passes per pump call before yielding to other fds.
    static let pumpPasses = 4

    func pump() {
        guard isReady, let s = session else { return }
        if let owner = sendOwner {
            if case .blocked(true) = owner.step(session: s, buffer: readBuffer) {
                guard isReady else { return }
                return updateInterest(active: true)
            }
            sendOwner = nil
        }
        var passes = 0
        var again = true
        var budgetLeft = false
        // A few passes: a channel that finished opening frees the slot for the next.
        while again && sendOwner == nil && passes < Self.pumpPasses {
            again = false
            passes += 1
            let readBefore = socketBytesRead
            if !channels.contains(where: { $0.isOpening }), let next = channels.first(where: { $0.needsOpenSlot }) {
                next.grantOpenSlot()
            }
            // Rotate the starting channel each pass so no channel always goes first (notes pitfall 24).
            let count = channels.count
            let start = count > 0 ? pumpRotation % count : 0
            pumpRotation &+= 1
            let order = channels.indices.map { channels[($0 + start) % count] }
            for channel in order where !channel.isFinished {
                let wasOpening = channel.isOpening
                let step = channel.step(session: s, buffer: readBuffer)
                guard isReady else { return }   // a completion may have disconnected us
                if wasOpening && !channel.isOpening { again = true }
                switch step {
                case .blocked(true): sendOwner = channel
                case .budgetExhausted: budgetLeft = true
                case .blocked(false), .done: break
                }
                if sendOwner != nil { break }
            }
            removeFinished()
            // A call in this pass read from the socket: packets for channels serviced
            // earlier in the pass (an open's confirmation, data, a close) may now be
            // parked inside libssh2, where epoll never reports them. Go round again.
            if socketBytesRead != readBefore { again = true }
        }
        // Never sleep while libssh2 may hold data for a channel that hit its budget (notes §0.5).
        if again || budgetLeft { schedulePump() }
        updateInterest(active: !channels.isEmpty)
    }

    private func removeFinished() {
        channels.removeAll { channel in
            guard channel.isFinished else { return false }
            if let timer = channel.timer { loop.disarm(timer) }
            return true
        }
    }

    /// The session is going away: every channel fails with `error`.
    func failChannels(_ error: SSHError) {
        let all = channels
        channels = []
        sendOwner = nil
        for channel in all {
            if let timer = channel.timer { loop.disarm(timer) }
            channel.abort(error)
        }
    }
}
