/// Where a forward's next client goes, and when another SSH session ("lane") is worth
/// connecting: pure decisions over the lanes' open queues, tested without sockets.
///
/// libssh2 (1.10 and 1.11) opens one channel at a time per session, so a burst of new
/// clients waits in one queue, each open a full round trip through a busy server
/// (measured: 2-10 ms each with 250 clients active, so the 500th client of a burst
/// waited 1.4 s). `ssh -L` sends all the opens at once. More sessions to the same
/// server give more opens in flight.
public struct LanePolicy: Sendable {
    /// Extra sessions per forward at most. Each lane shortens a burst but keeps costing
    /// for as long as its clients stay: one more sshd serving a share of them, at more
    /// CPU per request for the server. Measured on loopback (2026-12-01, AMD EPYC,
    /// 100-byte requests, wrk's opening burst each run), one lane / three lanes / none:
    /// 256 clients p99 155 / 95 / 400 ms with sshd's CPU per request 37 / 41 / 33 µs and
    /// req/s 1.01x / 0.97x / 0.96x `ssh -L`; 500 clients p99 728 / 392 / 1,470 ms at
    /// 0.96x / 0.83x / 0.99x. One lane takes most of the tail off for little of the cost.
    public static let defaultMaxExtraLanes = 1
    /// A lane is connected only when every lane's queue would take this many times as
    /// long to clear as a lane takes to connect. A lane that connects after time C halves
    /// the rest of a queue W: it saves (W - C) / 2 of waiting, more than its own C only
    /// when W > 3C. Below that it would arrive as the burst ends and only cost: one more
    /// login, and on the server one more sshd serving a share of the clients (measured on
    /// loopback, 64 clients of 100-byte requests: sshd's CPU per request 40 µs on one
    /// session, 54 on two, 60 on four; a 64-client burst cleared in ~85 ms on one session
    /// while a lane took 80-97 ms to connect under that load).
    public static let waitToConnectRatio: UInt64 = 3

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

    /// One lane's open queue: how many opens wait or are in flight, how long one open
    /// took there on average (`OpenPace`; 0 while unmeasured), and how long the open in
    /// flight has taken so far.
    public struct Queue: Equatable, Sendable {
        public var opens: Int
        public var openTimeNs: UInt64
        public var inFlightAgeNs: UInt64
        public init(opens: Int, openTimeNs: UInt64, inFlightAgeNs: UInt64 = 0) {
            self.opens = opens
            self.openTimeNs = openTimeNs
            self.inFlightAgeNs = inFlightAgeNs
        }

        /// The time to clear this queue (saturating): each open at the measured pace, or
        /// at the open in flight's age once that exceeds a whole login (`laneConnectNs`):
        /// an open that slow is stuck (a silent target), and a lane would have been
        /// ready by now. A younger open's age bounds only its own time, not the queue's:
        /// the pace does that once opens have completed.
        func waitNs(laneConnectNs: UInt64) -> UInt64 {
            let perOpen = inFlightAgeNs > laneConnectNs ? max(openTimeNs, inFlightAgeNs) : openTimeNs
            let (w, overflow) = UInt64(max(0, opens)).multipliedReportingOverflow(by: perOpen)
            return overflow ? .max : w
        }
    }

    /// True when every lane's queue would take more than `waitToConnectRatio` times
    /// `laneConnectNs` (the measured time a session of this forward took to connect) to
    /// clear, no lane is connecting, there is room for one more, and no lane has failed
    /// to connect (the server may limit logins).
    public func shouldGrow(queues: [Queue], laneConnectNs: UInt64, extraLanes: Int, connecting: Bool,
                           growthStopped: Bool) -> Bool {
        guard !connecting, !growthStopped, extraLanes < maxExtraLanes, !queues.isEmpty, laneConnectNs > 0 else { return false }
        let (threshold, overflow) = laneConnectNs.multipliedReportingOverflow(by: Self.waitToConnectRatio)
        guard !overflow else { return false }
        return queues.allSatisfy { $0.waitNs(laneConnectNs: laneConnectNs) > threshold }
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
