/// Where a forward's next client goes, and when another SSH session ("lane") is worth
/// connecting: pure decisions over the lanes' queue depths, tested without sockets.
///
/// libssh2 (1.10 and 1.11) opens one channel at a time per session, so a burst of new
/// clients waits in one queue, each open a full round trip through a busy server
/// (measured: 2-10 ms each with 250 clients active, so the 500th client of a burst
/// waited 1.4 s). `ssh -L` sends all the opens at once. More sessions to the same
/// server give more opens in flight.
public struct LanePolicy: Sendable {
    /// Extra sessions per forward at most: four opens in flight bring a 500-client burst
    /// under 0.5 s on loopback, and each lane is one more login on the server.
    public static let defaultMaxExtraLanes = 3
    /// Opens waiting on every lane before another lane pays off: a lane costs about ten
    /// round trips (TCP, key exchange, authentication) before its first open, while the
    /// existing lanes clear this many opens in about as many round trips.
    public static let queueDepthToGrow = 16

    public let maxExtraLanes: Int

    public init(maxExtraLanes: Int = LanePolicy.defaultMaxExtraLanes) {
        self.maxExtraLanes = max(0, maxExtraLanes)
    }

    /// The lane for a new client: the one with the fewest opens waiting (the first on ties,
    /// so a forward that is never busy stays on its connection's own session).
    public func pick(queueDepths: [Int]) -> Int? {
        guard var best = queueDepths.indices.first else { return nil }
        for i in queueDepths.indices where queueDepths[i] < queueDepths[best] { best = i }
        return best
    }

    /// True when every lane has a deep queue, no lane is connecting, there is room for
    /// one more, and no lane has failed to connect (the server may limit logins).
    public func shouldGrow(queueDepths: [Int], extraLanes: Int, connecting: Bool, growthStopped: Bool) -> Bool {
        guard !connecting, !growthStopped, extraLanes < maxExtraLanes, !queueDepths.isEmpty else { return false }
        return queueDepths.allSatisfy { $0 >= Self.queueDepthToGrow }
    }

    /// How many of `waiting` clients a lane with an empty queue takes from the busiest
    /// one: half, and at least one, so the queues even out in a few steps.
    public func stealCount(waiting: Int) -> Int {
        waiting <= 0 ? 0 : max(1, waiting / 2)
    }

    /// How many waiting clients each existing lane hands to a lane that just connected,
    /// so all lanes end with about the same queue (the new lane's own queue is empty).
    public func handOver(queueDepths: [Int]) -> [Int] {
        let share = queueDepths.reduce(0, +) / (queueDepths.count + 1)
        return queueDepths.map { max(0, $0 - share) }
    }
}
