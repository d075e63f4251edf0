import Reactor

/// The SSH sessions one forward spreads its channel opens over (see `LanePolicy`): the
/// connection's own session first, plus extra sessions to the same server, same user
/// and credentials, connected only while a burst of new clients queues up, and closed
/// once idle. Only this forward's clients that still wait for their channel move
/// between sessions; an extra session whose queue runs dry takes more of them, so an
/// open stuck on one session (an unreachable target) does not hold the others back.
final class ForwardLanes {
    /// An extra lane with no clients for this long is closed (one login less on the server).
    static let idleCloseMs = 15_000

    private unowned let loop: EventLoop
    private weak var primary: SSHSession?
    private let policy: LanePolicy
    private var extras: [SSHSession] = []
    private var connecting: SSHSession?
    private var growthStopped = false
    private var growthCheckScheduled = false
    /// What one more lane costs in time: the latest measured connect of a session of
    /// this forward (the primary's until a lane has connected).
    private var laneConnectNs: UInt64
    /// True for the clients of this forward (set by the forward once it exists).
    var owns: (TunnelClient) -> Bool = { _ in false }
    private lazy var idleTimer = loop.makeTimer { [unowned self] in self.closeIdleLanes() }

    init(loop: EventLoop, primary: SSHSession, policy: LanePolicy) {
        self.loop = loop
        self.primary = primary
        self.policy = policy
        laneConnectNs = primary.connectDurationNs
        watchGrants(on: primary)
    }

    /// Every open granted on `session` makes this forward weigh its lanes again.
    private func watchGrants(on session: SSHSession) {
        session.openGrantWatchers[ObjectIdentifier(self)] = { [weak self] in self?.scheduleGrowthCheck() }
    }

    /// The sessions new clients may go to now: the primary, then the ready lanes.
    private func readyLanes(_ primary: SSHSession) -> [SSHSession] { [primary] + extras.filter(\.isReady) }

    /// Sessions connected now: the primary and the extra lanes (for tests and status).
    var sessionCount: Int { (primary?.isReady == true ? 1 : 0) + extras.count }

    /// The session a new client should open its channel on; nil when the connection is gone.
    func sessionForNewClient() -> SSHSession? {
        guard let primary, primary.isReady else { return nil }
        let lanes = readyLanes(primary)
        let queues = lanes.map(\.openQueue)
        considerGrowth(primary: primary, queues: queues)
        return policy.pick(queueDepths: queues.map(\.opens)).map { lanes[$0] }
    }

    /// Connects another lane when the queues' measured wait calls for one (`LanePolicy`).
    private func considerGrowth(primary: SSHSession, queues: [LanePolicy.Queue]) {
        guard primary.canLogInAgainSilently,
              policy.shouldGrow(queues: queues, laneConnectNs: laneConnectNs, extraLanes: extras.count,
                                connecting: connecting != nil, growthStopped: growthStopped) else { return }
        grow(from: primary)
    }

    /// An open slot was granted on one of the lanes: weigh growth again before the loop
    /// sleeps (a burst that arrived before any open had ended is judged once one has).
    private func scheduleGrowthCheck() {
        guard !growthCheckScheduled else { return }
        growthCheckScheduled = true
        loop.runBeforeSleep { [weak self] in
            guard let self else { return }
            self.growthCheckScheduled = false
            guard let primary = self.primary, primary.isReady else { return }
            self.considerGrowth(primary: primary, queues: self.readyLanes(primary).map(\.openQueue))
        }
    }

    private func grow(from primary: SSHSession) {
        let lane = primary.makeSibling()
        connecting = lane
        lane.connect { [weak self, unowned lane] result in
            guard let self else { return lane.disconnect() }
            self.connecting = nil
            switch result {
            case .success:
                guard let primary = self.primary, primary.isReady else { return lane.disconnect() }
                self.extras.append(lane)
                self.laneConnectNs = lane.connectDurationNs
                self.watchGrants(on: lane)
                lane.onLost = { [weak self, unowned lane] _ in self?.extras.removeAll { $0 === lane } }
                lane.onOpenQueueEmpty = { [weak self, weak lane] in
                    guard let self, let lane, lane.isReady else { return }
                    self.steal(for: lane)
                }
                self.shareQueue(with: lane, primary: primary)
                self.loop.arm(self.idleTimer, after: .milliseconds(Self.idleCloseMs))
            case .failure:
                // The server may cap logins per user (MaxStartups, PAM limits): stay with
                // the lanes we have rather than knock again for every burst.
                self.growthStopped = true
            }
        }
    }

    /// Moves waiting clients from the busy lanes to the one that just connected.
    private func shareQueue(with lane: SSHSession, primary: SSHSession) {
        let others = [primary] + extras.filter { $0 !== lane && $0.isReady }
        let counts = policy.handOver(queueDepths: others.map(\.queuedOpens))
        for (session, count) in zip(others, counts) where count > 0 {
            for client in session.takeQueuedTunnelClients(count, where: owns) { client.move(to: lane) }
        }
    }

    /// `lane` has no opens left: it takes waiting clients from the session with most.
    private func steal(for lane: SSHSession) {
        guard let primary else { return }
        let others = ([primary] + extras).filter { $0 !== lane && $0.isReady }
        let waiting = others.map { $0.waitingTunnelClients(where: owns) }
        guard let most = waiting.indices.max(by: { waiting[$0] < waiting[$1] }) else { return }
        let count = policy.stealCount(waiting: waiting[most])
        guard count > 0 else { return }
        for client in others[most].takeQueuedTunnelClients(count, where: owns) { client.move(to: lane) }
    }

    private func closeIdleLanes() {
        let idle = extras.filter { !$0.hasChannels }
        extras.removeAll { !$0.hasChannels }
        for lane in idle { lane.disconnect() }
        if !extras.isEmpty { loop.arm(idleTimer, after: .milliseconds(Self.idleCloseMs)) }
    }

    /// The forward is closing: every extra lane goes (their clients were shut already).
    func close() {
        loop.disarm(idleTimer)
        primary?.openGrantWatchers[ObjectIdentifier(self)] = nil
        connecting?.onLost = nil
        connecting?.disconnect()
        connecting = nil
        for lane in extras {
            lane.onLost = nil
            lane.onOpenQueueEmpty = nil
            lane.openGrantWatchers = [:]
            lane.disconnect()
        }
        extras = []
        growthStopped = true
    }
}
