import XCTest
@testable import Remote

final class ReconnectStateMachineTests: XCTestCase {
    private let ms: UInt64 = 1_000_000

    func testBacksOffAndComesBack() {
        var m = ReconnectStateMachine(enabled: true)
        XCTAssertEqual(m.onLost(now: 0), .wait(ms: 500))
        XCTAssertTrue(m.isTrying)
        XCTAssertEqual(m.onLost(now: 1), .none, "one loss, one series of attempts")
        XCTAssertEqual(m.onTimer(), .connect)
        XCTAssertEqual(m.onAttemptFailed("refused", retryable: true, now: 600 * ms), .wait(ms: 1000))
        XCTAssertEqual(m.onTimer(), .connect)
        XCTAssertEqual(m.onAttemptFailed("refused", retryable: true, now: 2000 * ms), .wait(ms: 2000))
        XCTAssertEqual(m.onTimer(), .connect)
        XCTAssertEqual(m.onAttemptSucceeded(), .restore)
        XCTAssertEqual(m.state, .idle)
        XCTAssertFalse(m.isTrying)
        XCTAssertEqual(m.onLost(now: 9000 * ms), .wait(ms: 500), "a later loss starts over")
    }

    func testDelayIsCapped() {
        XCTAssertEqual(ReconnectStateMachine.delay(before: 7), 30_000)
        XCTAssertEqual(ReconnectStateMachine.delay(before: 100), 30_000)
    }

    func testPasswordLoginsNeverTry() {
        var m = ReconnectStateMachine(enabled: false)
        XCTAssertEqual(m.onLost(now: 0), .none)
        XCTAssertFalse(m.isTrying)
        XCTAssertEqual(m.onTimer(), .none)
    }

    func testRefusedCredentialsAndChangedHostKeysStopAtOnce() {
        var m = ReconnectStateMachine(enabled: true)
        _ = m.onLost(now: 0)
        _ = m.onTimer()
        XCTAssertEqual(m.onAttemptFailed("host key changed", retryable: false, now: ms), .giveUp("host key changed"))
        XCTAssertFalse(m.isTrying)
        XCTAssertEqual(m.onTimer(), .none)
    }

    func testGivesUpAfterTheBudget() {
        var m = ReconnectStateMachine(enabled: true)
        _ = m.onLost(now: 0)
        _ = m.onTimer()
        let late = UInt64(ReconnectStateMachine.giveUpAfterMs) * ms
        XCTAssertEqual(m.onAttemptFailed("timed out", retryable: true, now: late), .giveUp("timed out"))
    }

    func testCancelEndsEverything() {
        var m = ReconnectStateMachine(enabled: true)
        _ = m.onLost(now: 0)
        m.onCancel()
        XCTAssertEqual(m.onTimer(), .none, "an armed timer firing after a delete does nothing")
        XCTAssertEqual(m.onAttemptSucceeded(), .none)
    }
}
