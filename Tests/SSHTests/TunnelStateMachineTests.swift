import XCTest
@testable import SSH

final class TunnelStateMachineTests: XCTestCase {
    private func open() -> TunnelStateMachine {
        var m = TunnelStateMachine()
        XCTAssertEqual(m.onOpenSlot(), .open)
        XCTAssertEqual(m.onOpened(), .pump)
        return m
    }

    func testHalfCloseEachWayThenClose() {
        var m = open()
        XCTAssertEqual(m.onUpstreamDone(), .none)
        XCTAssertEqual(m.state, .open(upstream: false, downstream: true))
        XCTAssertEqual(m.onDownstreamDone(), .closeChannel)
        XCTAssertEqual(m.state, .closing)
        XCTAssertEqual(m.onChannelClosed(), .closeClient)
        XCTAssertEqual(m.state, .closed)
    }

    func testDownstreamFirst() {
        var m = open()
        XCTAssertEqual(m.onDownstreamDone(), .none)
        XCTAssertEqual(m.onUpstreamDone(), .closeChannel)
    }

    func testClientResetWhileOpenClosesTheChannel() {
        var m = open()
        XCTAssertEqual(m.onClientError(), .closeChannel)
        XCTAssertEqual(m.onClientError(), .none)
    }

    /// libssh2 keeps one open's state per session: an open the client walked away from
    /// is still driven to its end (the next open on the session would resume it).
    func testClientGoneWhileOpeningClosesAfterTheOpen() {
        var m = TunnelStateMachine()
        _ = m.onOpenSlot()
        XCTAssertEqual(m.onClientError(), .none)
        XCTAssertEqual(m.state, .openAbandoned, "the open goes on")
        XCTAssertEqual(m.onOpenSlot(), .none)
        XCTAssertEqual(m.onUpstreamDone(), .none)
        XCTAssertEqual(m.onOpened(), .closeChannel)
        XCTAssertEqual(m.onChannelClosed(), .closeClient)
        var refused = TunnelStateMachine()
        _ = refused.onOpenSlot()
        _ = refused.onClientError()
        XCTAssertEqual(refused.onChannelFailed(), .closeClient, "an abandoned open the server refused leaves nothing to close")
    }

    func testRefusedOpenClosesOnlyTheClient() {
        var m = TunnelStateMachine()
        _ = m.onOpenSlot()
        XCTAssertEqual(m.onChannelFailed(), .closeClient)
        XCTAssertEqual(m.state, .closed)
    }

    func testQueuedClientLeavingNeverOpens() {
        var m = TunnelStateMachine()
        XCTAssertEqual(m.onClientError(), .closeClient)
        XCTAssertEqual(m.onOpenSlot(), .none)
    }

    func testSessionLossClosesEverything() {
        var m = open()
        XCTAssertEqual(m.onSessionLost(), .closeClient)
        XCTAssertEqual(m.onSessionLost(), .none)
    }
}

final class LanePolicyTests: XCTestCase {
    func testPicksTheShortestQueueFirstOnTies() {
        let p = LanePolicy()
        XCTAssertEqual(p.pick(queueDepths: [0, 0, 0]), 0, "an idle forward stays on the connection's own session")
        XCTAssertEqual(p.pick(queueDepths: [5, 2, 2]), 1)
        XCTAssertNil(p.pick(queueDepths: []))
    }

    func testGrowsOnlyWhenEveryQueueWouldOutlastThreeConnectsAndThereIsRoom() {
        let p = LanePolicy(maxExtraLanes: 2)
        let connect: UInt64 = 60_000_000   // a lane takes 60 ms to connect
        func q(_ opens: Int, ms: UInt64) -> LanePolicy.Queue { LanePolicy.Queue(opens: opens, openTimeNs: ms * 1_000_000) }
        func grows(_ queues: [LanePolicy.Queue], extra: Int = 0, connecting: Bool = false, stopped: Bool = false) -> Bool {
            p.shouldGrow(queues: queues, laneConnectNs: connect, extraLanes: extra, connecting: connecting, growthStopped: stopped)
        }
        // 64 opens at 1.2 ms clear in 77 ms: a lane would connect as the burst ends.
        XCTAssertFalse(grows([q(64, ms: 1)]))
        XCTAssertFalse(grows([q(180, ms: 1)]), "exactly three connects' worth is not more")
        XCTAssertTrue(grows([q(181, ms: 1)]))
        XCTAssertTrue(grows([q(256, ms: 3)]), "256 opens at 3 ms: 768 ms of queue")
        XCTAssertTrue(grows([q(2, ms: 200)]), "a slow open (a stuck target's age) counts as much as many fast ones")
        XCTAssertFalse(grows([q(1000, ms: 0)]), "no open measured yet: no grounds to grow")
        XCTAssertFalse(grows([q(256, ms: 3), q(0, ms: 3)], extra: 1), "a lane with an empty queue takes the next clients")
        XCTAssertFalse(grows([q(256, ms: 3)], connecting: true), "one lane connecting at a time")
        XCTAssertFalse(grows([q(256, ms: 3), q(256, ms: 3), q(256, ms: 3)], extra: 2), "at the cap")
        XCTAssertFalse(grows([q(256, ms: 3)], stopped: true), "a refused lane stops growth")
        XCTAssertFalse(LanePolicy(maxExtraLanes: 0).shouldGrow(queues: [q(1000, ms: 50)], laneConnectNs: connect, extraLanes: 0,
                                                              connecting: false, growthStopped: false), "0 turns lanes off")
        XCTAssertFalse(p.shouldGrow(queues: [q(1000, ms: 50)], laneConnectNs: 0, extraLanes: 0, connecting: false, growthStopped: false),
                       "no connect time measured: no comparison")
        XCTAssertTrue(p.shouldGrow(queues: [LanePolicy.Queue(opens: Int.max, openTimeNs: .max)], laneConnectNs: connect, extraLanes: 0,
                                   connecting: false, growthStopped: false), "a saturating wait still grows")
    }

    func testAnIdleLaneTakesHalfAndAtLeastOne() {
        let p = LanePolicy()
        XCTAssertEqual(p.stealCount(waiting: 0), 0)
        XCTAssertEqual(p.stealCount(waiting: 1), 1, "the last waiting client moves too")
        XCTAssertEqual(p.stealCount(waiting: 9), 4)
    }

    func testHandOverEvensTheQueues() {
        let p = LanePolicy()
        XCTAssertEqual(p.handOver(queueDepths: [30]), [15])
        XCTAssertEqual(p.handOver(queueDepths: [20, 18]), [8, 6], "each keeps 12; the new lane gets 14")
        XCTAssertEqual(p.handOver(queueDepths: [40, 0]), [27, 0])
        XCTAssertEqual(p.handOver(queueDepths: [1]), [1], "share rounds down")
    }
}

final class OpenPaceTests: XCTestCase {
    private let ms: UInt64 = 1_000_000

    func testBackToBackGrantsMeasureOpens() {
        var pace = OpenPace()
        XCTAssertEqual(pace.openTimeNs(now: 0, openInFlight: false), 0, "nothing measured")
        pace.onGrant(now: 100 * ms, stillWaiting: 3)
        pace.onGrant(now: 102 * ms, stillWaiting: 2)
        XCTAssertEqual(pace.meanNs, 2 * ms, "the first sample is the mean")
        pace.onGrant(now: 106 * ms, stillWaiting: 1)
        XCTAssertEqual(pace.meanNs, 2_500_000, "then a quarter of each new sample (4 ms): 2 - 0.5 + 1")
    }

    func testAnIdleGapIsNoSample() {
        var pace = OpenPace()
        pace.onGrant(now: 10 * ms, stillWaiting: 0)   // nobody waited behind this open
        pace.onGrant(now: 5_000 * ms, stillWaiting: 0)
        XCTAssertEqual(pace.meanNs, 0, "five idle seconds are not an open's time")
        pace.onGrant(now: 5_001 * ms, stillWaiting: 0)
        XCTAssertEqual(pace.meanNs, 0)
    }

    func testTheOpenInFlightBoundsTheTimeFromBelow() {
        var pace = OpenPace()
        pace.onGrant(now: 0, stillWaiting: 5)
        pace.onGrant(now: 1 * ms, stillWaiting: 4)    // mean 1 ms
        XCTAssertEqual(pace.openTimeNs(now: 1 * ms + 500_000, openInFlight: true), 1 * ms, "younger than the mean")
        XCTAssertEqual(pace.openTimeNs(now: 301 * ms, openInFlight: true), 300 * ms, "stuck for 300 ms")
        XCTAssertEqual(pace.openTimeNs(now: 301 * ms, openInFlight: false), 1 * ms, "no open in flight: the mean")
    }
}
