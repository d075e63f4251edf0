import CLinuxSys
import Glibc

/// The one reactor thread: level-triggered epoll, a timer heap, a before-sleep queue
/// and an eventfd through which other threads post work. It knows no protocol.
///
/// Shape of one iteration (Redis `aeProcessEvents` + `beforeSleep`):
///   run before-sleep tasks -> wait (timeout from the timer heap, 0 if tasks are
///   pending) -> dispatch events -> fire expired timers.
public final class EventLoop {
    /// Events taken per epoll_wait. A full batch re-polls at once (libuv does the same).
    static let eventBatch = 256

    private struct Registration {
        let fd: Int32
        var interest: Interest
        unowned(unsafe) let handler: IOHandler
        /// In the epoll set. A registration with no interest is taken out (libuv's
        /// uv__io_stop does the same): epoll reports EPOLLHUP and EPOLLERR whatever the
        /// mask says, so a hung-up socket whose owner waits on something else (a tunnel
        /// client waiting for its channel's close, a response still being computed) would
        /// be reported again on every wait, and the loop would spin.
        var polled: Bool
    }

    private let epfd: Int32
    private var slots: [Registration?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [Int] = []
    private var heap = TimerHeap<Timer>()
    private var beforeSleep: [() -> Void] = []
    private let wakeup: Wakeup
    private var running = false
    private var events: UnsafeMutablePointer<epoll_event>
    public private(set) var now: UInt64 = MonotonicClock.now()
    /// How many fds are registered; lets the shutdown path know when all is closed.
    public private(set) var registrationCount = 0

    public init() throws {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else { throw SystemError.call("epoll_create1", errno) }
        events = .allocate(capacity: Self.eventBatch)
        wakeup = try Wakeup()
        wakeup.token = register(fd: wakeup.fd, interest: .read, handler: wakeup)
        registrationCount -= 1 // the loop's own eventfd does not count as work
    }

    deinit {
        events.deallocate()
        close(epfd)
    }

    // MARK: registrations

    /// Starts watching `fd`. The handler is not retained: its owner keeps it alive
    /// and must `unregister` before it goes away.
    public func register(fd: Int32, interest: Interest, handler: IOHandler) -> Token {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = slots.count
            slots.append(nil)
            generations.append(0)
        }
        slots[slot] = Registration(fd: fd, interest: interest, handler: handler, polled: !interest.isEmpty)
        let token = Token(slot: slot, generation: generations[slot])
        if !interest.isEmpty {
            let rc = csys_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, interest.epollMask, token.raw)
            precondition(rc == 0, "epoll_ctl ADD fd \(fd) failed: errno \(errno)")
        }
        registrationCount += 1
        return token
    }

    /// Changes what `token` listens for; a no-op when nothing changes (libuv caches the same way).
    public func setInterest(_ token: Token, _ interest: Interest) {
        guard var reg = live(token), reg.interest != interest else { return }
        reg.interest = interest
        let op: Int32
        switch (reg.polled, interest.isEmpty) {
        case (true, true): op = EPOLL_CTL_DEL; reg.polled = false    // nothing wanted: out of the set
        case (true, false): op = EPOLL_CTL_MOD
        case (false, false): op = EPOLL_CTL_ADD; reg.polled = true   // wanted again: back in
        case (false, true): slots[token.slot] = reg; return           // out already
        }
        slots[token.slot] = reg
        let rc = csys_epoll_ctl(epfd, op, reg.fd, interest.epollMask, token.raw)
        precondition(rc == 0, "epoll_ctl \(op) fd \(reg.fd) failed: errno \(errno)")
    }

    public func interest(_ token: Token) -> Interest? { live(token)?.interest }

    /// Stops watching. Events already fetched for this token in the current batch are
    /// dropped by the generation check, so the caller may close the fd right away.
    public func unregister(_ token: Token) {
        guard let reg = live(token) else { return }
        if reg.polled { _ = csys_epoll_ctl(epfd, EPOLL_CTL_DEL, reg.fd, 0, 0) }
        slots[token.slot] = nil
        generations[token.slot] &+= 1
        freeSlots.append(token.slot)
        registrationCount -= 1
    }

    private func live(_ token: Token) -> Registration? {
        guard token.slot < slots.count, generations[token.slot] == token.generation else { return nil }
        return slots[token.slot]
    }

    // MARK: timers

    public func makeTimer(_ callback: @escaping () -> Void) -> Timer { Timer(callback: callback) }

    /// Arms (or re-arms) `timer` to fire `delay` nanoseconds from the loop's current time.
    public func arm(_ timer: Timer, after delay: UInt64) { arm(timer, at: now &+ delay) }

    public func arm(_ timer: Timer, at deadline: UInt64) {
        timer.deadline = deadline
        if let queued = timer.queuedAt, queued <= deadline { return }
        heap.push(timer, deadline: deadline)
        timer.queuedAt = deadline
    }

    public func disarm(_ timer: Timer) { timer.deadline = nil }

    /// Runs `task` once after `delay`; for fire-and-forget work such as retries.
    public func schedule(after delay: UInt64, _ task: @escaping () -> Void) {
        arm(makeTimer(task), after: delay)
    }

    private func fireTimers() {
        while let entry = heap.popExpired(now: now) {
            let timer = entry.element
            if timer.queuedAt == entry.deadline { timer.queuedAt = nil }
            guard let deadline = timer.deadline else { continue }
            if deadline > now {
                // Re-armed later since this entry was queued: queue it again.
                if timer.queuedAt == nil || timer.queuedAt! > deadline {
                    heap.push(timer, deadline: deadline)
                    timer.queuedAt = deadline
                }
                continue
            }
            timer.deadline = nil
            timer.callback()
        }
    }

    // MARK: work queues

    /// Runs `task` on this thread after the current event batch, before the loop sleeps.
    /// A task that finds work left over queues itself again; the loop then polls
    /// without sleeping (Redis `aeSetDontWait`), so nothing parked is left behind.
    public func runBeforeSleep(_ task: @escaping () -> Void) { beforeSleep.append(task) }

    /// Thread-safe: hands `task` to the loop thread and wakes it.
    public func post(_ task: @escaping () -> Void) { wakeup.post(task) }

    // MARK: running

    /// Runs until `stop()`.
    public func run() {
        running = true
        while running {
            runOnce()
        }
    }

    public func stop() { running = false }

    func runOnce() {
        drainBeforeSleep()
        guard running else { return }
        now = MonotonicClock.now()
        let timeout = waitTimeout()
        let n = epoll_wait(epfd, events, Int32(Self.eventBatch), timeout)
        now = MonotonicClock.now()
        if n < 0 {
            precondition(errno == EINTR, "epoll_wait failed: errno \(errno)")
            return
        }
        for i in 0..<Int(n) {
            let ev = events + i
            let token = Token(raw: csys_event_data(ev))
            guard let reg = live(token) else { continue }
            reg.handler.handleIO(IOEvents(mask: csys_event_mask(ev)))
        }
        fireTimers()
    }

    private func drainBeforeSleep() {
        // Tasks queued while draining run in the next iteration, after a zero-timeout poll.
        guard !beforeSleep.isEmpty else { return }
        let tasks = beforeSleep
        beforeSleep.removeAll(keepingCapacity: true)
        for task in tasks { task() }
    }

    private func waitTimeout() -> Int32 {
        if !beforeSleep.isEmpty { return 0 }
        guard let deadline = heap.minDeadline else { return -1 }
        if deadline <= now { return 0 }
        // Round up so we never wake just before a deadline and spin.
        let ms = (deadline - now + 999_999) / 1_000_000
        return Int32(min(ms, UInt64(Int32.max)))
    }
}

extension Token {
    init(raw: UInt64) { self.raw = raw }
}
