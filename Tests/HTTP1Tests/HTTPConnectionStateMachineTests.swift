import XCTest
@testable import HTTP1

final class HTTPConnectionStateMachineTests: XCTestCase {
    func testKeepAliveCycle() {
        var m = HTTPConnectionStateMachine()
        XCTAssertEqual(m.onRequestStarted(), .arm(.request))
        XCTAssertEqual(m.state, .reading)
        XCTAssertEqual(m.onRequestComplete(), .dispatch)
        XCTAssertEqual(m.onResponse(keepAlive: true), .writeAndContinue)
        XCTAssertEqual(m.state, .idle)
        XCTAssertEqual(m.onOutputDrained(), .arm(.idle))
        XCTAssertEqual(m.onTimeout(), .close)
        XCTAssertEqual(m.state, .closed)
    }

    func testContinueOnlyWhileReadingARequest() {
        var m = HTTPConnectionStateMachine()
        XCTAssertEqual(m.onContinueExpected(), .none, "idle: no request")
        _ = m.onRequestStarted()
        XCTAssertEqual(m.onContinueExpected(), .writeContinue)
        _ = m.onRequestComplete()
        XCTAssertEqual(m.onContinueExpected(), .none, "handling: the body is in")
    }

    func testConnectionCloseRequestLingersThenCloses() {
        var m = HTTPConnectionStateMachine()
        _ = m.onRequestStarted()
        _ = m.onRequestComplete()
        XCTAssertEqual(m.onResponse(keepAlive: false), .writeAndClose)
        XCTAssertEqual(m.onOutputDrained(), .linger)
        XCTAssertEqual(m.state, .lingering)
        XCTAssertEqual(m.onPeerEOF(), .close)
    }

    func testSlowClientTimesOutWhileReading() {
        var m = HTTPConnectionStateMachine()
        _ = m.onRequestStarted()
        XCTAssertEqual(m.onTimeout(), .close)
        XCTAssertEqual(m.state, .closed)
    }

    func testParseErrorAnswersThenCloses() {
        var m = HTTPConnectionStateMachine()
        _ = m.onRequestStarted()
        XCTAssertEqual(m.onParseError(.headTooLarge), .failAndClose(.headTooLarge))
        XCTAssertEqual(m.state, .closing)
        XCTAssertEqual(m.onOutputDrained(), .linger)
    }

    func testPeerHalfCloseWhileHandlingStillGetsTheAnswer() {
        var m = HTTPConnectionStateMachine()
        _ = m.onRequestStarted()
        _ = m.onRequestComplete()
        XCTAssertEqual(m.onPeerEOF(), .none)
        XCTAssertEqual(m.onResponse(keepAlive: true), .writeAndClose)
    }

    func testShutdownClosesIdleAndFinishesInFlight() {
        var idle = HTTPConnectionStateMachine()
        XCTAssertEqual(idle.onShutdown(), .close)

        var busy = HTTPConnectionStateMachine()
        _ = busy.onRequestStarted()
        _ = busy.onRequestComplete()
        XCTAssertEqual(busy.onShutdown(), .none)
        XCTAssertEqual(busy.onResponse(keepAlive: true), .writeAndClose)
    }

    func testResponseAfterSocketErrorIsDropped() {
        var m = HTTPConnectionStateMachine()
        _ = m.onRequestStarted()
        _ = m.onRequestComplete()
        XCTAssertEqual(m.onSocketError(), .close)
        XCTAssertEqual(m.onResponse(keepAlive: true), .none)
    }

    func testTimerDoesNothingWhileHandling() {
        var m = HTTPConnectionStateMachine()
        _ = m.onRequestStarted()
        _ = m.onRequestComplete()
        XCTAssertEqual(m.onTimeout(), .none)
    }

    // MARK: streams (Server-Sent Events)

    private func streaming() -> HTTPConnectionStateMachine {
        var m = HTTPConnectionStateMachine()
        _ = m.onRequestStarted()
        _ = m.onRequestComplete()
        XCTAssertEqual(m.onStreamResponse(), .writeAndStream)
        XCTAssertEqual(m.state, .streaming)
        return m
    }

    func testAStreamHasNoTimerAndReadsNoRequest() {
        var m = streaming()
        XCTAssertEqual(m.onOutputDrained(), .none, "no keep-alive wait: the body goes on")
        XCTAssertEqual(m.onTimeout(), .none, "no timer bounds a stream")
        XCTAssertEqual(m.onParseError(.malformed("x")), .none, "the parser does not run")
        XCTAssertEqual(m.onContinueExpected(), .none)
        XCTAssertEqual(m.state, .streaming)
    }

    func testTheReaderLeavingClosesTheStream() {
        var m = streaming()
        XCTAssertEqual(m.onPeerEOF(), .close)
        XCTAssertEqual(m.state, .closed)
        var n = streaming()
        XCTAssertEqual(n.onSocketError(), .close)
    }

    func testTheServerEndingTheStreamFinishesLikeALastResponse() {
        var m = streaming()
        XCTAssertEqual(m.onStreamEnded(), .writeAndClose)
        XCTAssertEqual(m.state, .closing)
        XCTAssertEqual(m.onOutputDrained(), .linger)
        XCTAssertEqual(m.onStreamEnded(), .none, "once")
    }

    func testShutdownClosesAStreamAtOnce() {
        var m = streaming()
        XCTAssertEqual(m.onShutdown(), .close, "a stream has no end to wait for")
    }

    func testAStreamAnsweredAfterThePeerLeftSendsOnlyItsHead() {
        var m = HTTPConnectionStateMachine()
        _ = m.onRequestStarted()
        _ = m.onRequestComplete()
        _ = m.onPeerEOF()
        XCTAssertEqual(m.onStreamResponse(), .writeAndClose)
        var gone = HTTPConnectionStateMachine()
        _ = gone.onRequestStarted()
        _ = gone.onRequestComplete()
        _ = gone.onSocketError()
        XCTAssertEqual(gone.onStreamResponse(), .none)
    }
}
