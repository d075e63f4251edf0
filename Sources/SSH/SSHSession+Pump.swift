import CLibSSH2
import Reactor

/// The per-session pump (notes §7.3): one place that calls libssh2 for the session's
/// channels, honouring libssh2 1.10's rules: one half-sent packet per session (the
/// send owner goes first and alone), one channel open at a time (FIFO), and every
/// channel serviced after any call, since any call may park data for the others.
extension SSHSession {
    /// Channels for commands and pings on this session now (tunnel channels are counted
    /// by their forwards).
    public var commandChannelCount: Int { channels.reduce(0) { $0 + ($1 is ExecChannel ? 1 : 0) } }

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
        channel.owner = self
        channels.append(channel)
        if channel.wantsWarmChannel { keepWarmChannel() }
        schedulePump()
    }

    /// Queues a warm channel when there is none: commands adopt it and skip the open.
    private func keepWarmChannel() {
        guard warm == nil, !warmDisabled, isReady else { return }
        let next = WarmChannel()
        warm = next
        channels.append(next)
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

    /// Drives every channel, then writes their packets with one send (see cssh2_send).
    func pump() {
        guard isReady, session != nil else { return }
        corkOutput()
        pumpChannels()
        uncorkOutput()
        guard isReady else { return }
        if openPace.measuring && queuedOpens == 0 { openPace.onQueueEmptied() }
        updateInterest(active: !channels.isEmpty || sendOwner != nil)
        if let hook = onOpenQueueEmpty {
            let busy = queuedOpens > 0
            if openQueueWasBusy && !busy { loop.runBeforeSleep(hook) }
            openQueueWasBusy = busy
        }
    }

    private func pumpChannels() {
        guard isReady, let s = session else { return }
        if let owner = sendOwner {
            if case .blocked(true) = owner.step(session: s, buffer: readBuffer) {
                return   // still half-sent: pump() waits for EPOLLOUT
            }
            sendOwner = nil
        }
        var passes = 0
        var again = true
        // A few passes: a channel that finished opening frees the slot for the next.
        while again && sendOwner == nil && passes < Self.pumpPasses {
            again = false
            passes += 1
            let readBefore = socketBytesRead
            if startNextOpen(s) == .stop { return }
            // Round robin (notes pitfall 24): a pass that stops early (a half-sent packet)
            // resumes after the last channel it served, so with hundreds of channels the
            // ones late in the list are not starved by passes that keep stopping early.
            let count = channels.count
            let start = count > 0 ? pumpRotation % count : 0
            pumpRotation = start &+ 1
            let order = channels.indices.map { channels[($0 + start) % count] }
            for (served, channel) in order.enumerated() where !channel.isFinished {
                pumpRotation = start &+ served &+ 1
                let wasOpening = channel.isOpening
                let readBeforeStep = socketBytesRead
                if stepNow(channel, s) == .stop { return }   // a completion disconnected us
                if sendOwner != nil { break }
                // The open slot just freed: send the next open now, not after the
                // pass (500 clients arriving at once wait on these opens one by one).
                if wasOpening && !channel.isOpening {
                    again = true
                    if startNextOpen(s) == .stop { return }
                    if sendOwner != nil { break }
                } else if socketBytesRead != readBeforeStep, let opening = channels.first(where: { $0.isOpening }) {
                    // This call read packets off the socket; the open's confirmation may be
                    // among them. Look now rather than at the opener's turn in the pass.
                    if stepNow(opening, s) == .stop { return }
                    if sendOwner != nil { break }
                    if !opening.isOpening {
                        again = true
                        if startNextOpen(s) == .stop { return }
                        if sendOwner != nil { break }
                    }
                }
            }
            if sendOwner == nil { pumpRotation = start &+ 1 }   // a full pass: next one starts one later
            removeFinished()
            // A call in this pass read from the socket: packets for channels serviced
            // earlier in the pass (an open's confirmation, data, a close) may now be
            // parked inside libssh2, where epoll never reports them. Go round again.
            if socketBytesRead != readBefore { again = true }
        }
        if again { schedulePump() }
    }

    private enum OpenStart { case proceed, stop }

    /// Hands a ready warm channel to the first waiting command, then grants the free
    /// open slot to the first queued channel; each is stepped at once so its request
    /// leaves in this pass. `.stop` when a completion disconnected us.
    private func startNextOpen(_ s: OpaquePointer) -> OpenStart {
        if let w = warm, w.machine.state == .failed {
            warm = nil
            warmDisabled = true          // the server refuses extra channels: open per command
        }
        if sendOwner == nil, let w = warm, w.isReady,
           let waiting = channels.first(where: { $0.wantsWarmChannel && $0.needsOpenSlot }) as? ExecChannel,
           let ch = w.adopt() {
            warm = nil
            waiting.adopt(ch)
            keepWarmChannel()
            if stepNow(waiting, s) == .stop { return .stop }
        }
        let warmPending = warm != nil
        guard sendOwner == nil, !channels.contains(where: { $0.isOpening }),
              let next = channels.first(where: { $0.needsOpenSlot && !($0.wantsWarmChannel && warmPending) })
        else { return .proceed }
        next.grantOpenSlot()
        openPace.onGrant(now: loop.now, stillWaiting: queuedOpens - 1)
        for watcher in openGrantWatchers.values { watcher() }
        let result = stepNow(next, s)
        // Opens go one at a time: send this one now, not with the rest of the pass.
        if result == .proceed { flushQueuedOutput() }
        return result
    }

    /// Steps one channel and keeps the books: a half-sent packet makes it the send owner;
    /// a channel that hit its budget gets another pump before the loop sleeps (libssh2
    /// may hold its data where epoll never reports it, notes §0.5).
    private func stepNow(_ channel: SessionChannel, _ s: OpaquePointer) -> OpenStart {
        let step = channel.step(session: s, buffer: readBuffer)
        guard isReady else { return .stop }
        switch step {
        case .blocked(true): sendOwner = channel
        case .budgetExhausted: schedulePump()
        case .blocked(false), .done: break
        }
        return .proceed
    }

    private func removeFinished() {
        var sessionChannelEnded = false
        channels.removeAll { channel in
            guard channel.isFinished else { return false }
            if let timer = channel.timer { loop.disarm(timer) }
            if channel is ExecChannel { sessionChannelEnded = true }
            return true
        }
        if sessionChannelEnded { lastSessionChannelEnd = loop.now }
    }

    /// Whether a session channel of ours (besides `channel`) holds a slot on the server,
    /// or gave one back within `slotReleaseGraceNs`, so a refused open may succeed soon.
    func sessionSlotBusy(besides channel: ExecChannel) -> Bool {
        if warm?.isOpening == true || warm?.isReady == true { return true }
        if channels.contains(where: { $0 !== channel && ($0 as? ExecChannel)?.holdsSessionSlot == true }) { return true }
        return lastSessionChannelEnd != 0 && loop.now &- lastSessionChannelEnd < Self.slotReleaseGraceNs
    }

    /// One second: far more than sshd takes to collect a closed channel (its next loop).
    static let slotReleaseGraceNs: UInt64 = 1_000_000_000

    /// Queues a refused open again after `ms`.
    func retryOpen(_ channel: ExecChannel, afterMs ms: Int) {
        let timer = loop.makeTimer { [weak self, weak channel] in
            channel?.slotFreed()
            self?.schedulePump()
        }
        loop.arm(timer, after: .milliseconds(ms))
    }

    /// The session is going away: every channel fails with `error`.
    func failChannels(_ error: SSHError) {
        let all = channels
        channels = []
        sendOwner = nil
        warm?.abort(error)
        warm = nil
        for channel in all {
            if let timer = channel.timer { loop.disarm(timer) }
            channel.abort(error)
        }
    }
}
