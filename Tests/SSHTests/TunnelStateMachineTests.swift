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
        XCTAssertFalse(grows([q(1000, ms: 0)]), "no open measured yet: no grounds to grow")
        func stuck(_ opens: Int, ageMs: UInt64, meanMs: UInt64 = 0) -> LanePolicy.Queue {
            LanePolicy.Queue(opens: opens, openTimeNs: meanMs * 1_000_000, inFlightAgeNs: ageMs * 1_000_000)
        }
        XCTAssertTrue(grows([stuck(40, ageMs: 61)]), "an open in flight longer than a login is stuck: 40 behind it wait 2.4 s")
        XCTAssertFalse(grows([stuck(63, ageMs: 10)]), "a first open of 10 ms says nothing yet (it would make 630 ms)")
        XCTAssertFalse(grows([stuck(2, ageMs: 61, meanMs: 1)]), "stuck, but only one waits behind it: 122 ms")
        XCTAssertTrue(grows([stuck(200, ageMs: 10, meanMs: 1)]), "the measured pace alone: 200 ms")
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
        XCTAssertEqual(pace.meanNs, 0, "nothing measured")
        XCTAssertEqual(pace.inFlightAgeNs(now: 5 * ms, openInFlight: false), 0)
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

    func testAQueueThatEmptiedWithoutAGrantIsNoSample() {
        var pace = OpenPace()
        pace.onGrant(now: 0, stillWaiting: 5)
        XCTAssertTrue(pace.measuring)
        pace.onQueueEmptied()                      // the five moved to another session
        XCTAssertFalse(pace.measuring)
        pace.onGrant(now: 740 * ms, stillWaiting: 0)
        XCTAssertEqual(pace.meanNs, 0, "740 ms of nobody waiting is not an open's time")
    }

    func testTheOpenInFlightsAgeIsTheTimeSinceItsGrant() {
        var pace = OpenPace()
        pace.onGrant(now: 0, stillWaiting: 5)
        pace.onGrant(now: 1 * ms, stillWaiting: 4)    // mean 1 ms
        XCTAssertEqual(pace.inFlightAgeNs(now: 301 * ms, openInFlight: true), 300 * ms, "stuck for 300 ms")
        XCTAssertEqual(pace.inFlightAgeNs(now: 301 * ms, openInFlight: false), 0, "none in flight")
        XCTAssertEqual(pace.meanNs, 1 * ms, "an open in flight is no sample")
    }
}
