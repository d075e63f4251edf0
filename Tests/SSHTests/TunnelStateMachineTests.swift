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

    func testGrowsOnlyWhenEveryLaneIsBusyAndThereIsRoom() {
        let p = LanePolicy(maxExtraLanes: 2)
        let deep = LanePolicy.queueDepthToGrow
        XCTAssertFalse(p.shouldGrow(queueDepths: [deep - 1], extraLanes: 0, connecting: false, growthStopped: false))
        XCTAssertTrue(p.shouldGrow(queueDepths: [deep], extraLanes: 0, connecting: false, growthStopped: false))
        XCTAssertFalse(p.shouldGrow(queueDepths: [deep, 0], extraLanes: 1, connecting: false, growthStopped: false),
                       "a lane with an empty queue takes the next clients")
        XCTAssertFalse(p.shouldGrow(queueDepths: [deep], extraLanes: 0, connecting: true, growthStopped: false),
                       "one lane connecting at a time")
        XCTAssertFalse(p.shouldGrow(queueDepths: [deep, deep, deep], extraLanes: 2, connecting: false, growthStopped: false),
                       "at the cap")
        XCTAssertFalse(p.shouldGrow(queueDepths: [deep], extraLanes: 0, connecting: false, growthStopped: true),
                       "a refused lane stops growth")
        XCTAssertFalse(LanePolicy(maxExtraLanes: 0).shouldGrow(queueDepths: [1000], extraLanes: 0, connecting: false, growthStopped: false),
                       "0 turns lanes off")
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
