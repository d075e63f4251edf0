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

    func testClientGoneWhileOpeningClosesAfterTheOpen() {
        var m = TunnelStateMachine()
        _ = m.onOpenSlot()
        XCTAssertEqual(m.onClientError(), .none)
        XCTAssertEqual(m.onOpened(), .closeChannel)
        XCTAssertEqual(m.onChannelClosed(), .closeClient)
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
