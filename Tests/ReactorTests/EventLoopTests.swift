import Foundation
import Glibc
import XCTest
@testable import Reactor

final class EventLoopTests: XCTestCase {
    func testTimersFireInOrderAndRearmMovesDeadline() throws {
        let loop = try EventLoop()
        var fired: [String] = []
        let a = loop.makeTimer { fired.append("a") }
        let b = loop.makeTimer { fired.append("b") }
        loop.arm(a, after: .milliseconds(5))
        loop.arm(b, after: .milliseconds(10))
        // Re-arming `a` later moves it after `b` without a second heap entry firing early.
        loop.arm(a, after: .milliseconds(30))
        loop.schedule(after: .milliseconds(60)) { loop.stop() }
        loop.run()
        XCTAssertEqual(fired, ["b", "a"])
    }

    func testDisarmedTimerDoesNotFire() throws {
        let loop = try EventLoop()
        var fired = false
        let t = loop.makeTimer { fired = true }
        loop.arm(t, after: .milliseconds(5))
        loop.disarm(t)
        loop.schedule(after: .milliseconds(20)) { loop.stop() }
        loop.run()
        XCTAssertFalse(fired)
    }

    func testPostFromAnotherThreadRunsOnLoop() throws {
        let loop = try EventLoop()
        final class Box: @unchecked Sendable { var value = 0; var onLoop = false }
        let box = Box()
        let thread = Thread { loop.post { box.value = 42; box.onLoop = Thread.isMainThread; loop.stop() } }
        thread.start()
        loop.schedule(after: .seconds(5)) { loop.stop() }
        loop.run()
        XCTAssertEqual(box.value, 42)
        XCTAssertTrue(box.onLoop, "posted work must run on the loop's thread")
    }

    func testRunBeforeSleepRunsBeforeWaiting() throws {
        let loop = try EventLoop()
        var order: [Int] = []
        loop.runBeforeSleep {
            order.append(1)
            loop.runBeforeSleep { order.append(2); loop.stop() }
        }
        // A long timer must not delay the second before-sleep task (zero-timeout poll).
        loop.schedule(after: .seconds(5)) { order.append(99); loop.stop() }
        let start = MonotonicClock.now()
        loop.run()
        XCTAssertEqual(order, [1, 2])
        XCTAssertLessThan(MonotonicClock.now() - start, .seconds(4))
    }

    func testReadableEventAndUnregister() throws {
        let loop = try EventLoop()
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        final class Reader: IOHandler {
            var events = 0
            var onEvent: () -> Void = {}
            func handleIO(_ e: IOEvents) { if e.readable { events += 1; onEvent() } }
        }
        let reader = Reader()
        let token = loop.register(fd: fds[0], interest: .read, handler: reader)
        reader.onEvent = {
            loop.unregister(token)
            loop.stop()
        }
        XCTAssertEqual(write(fds[1], "x", 1), 1)
        loop.schedule(after: .seconds(5)) { loop.stop() }
        loop.run()
        XCTAssertEqual(reader.events, 1)
        XCTAssertEqual(loop.registrationCount, 0)
    }

    /// A hung-up socket whose owner wants nothing from it right now (a tunnel client
    /// waiting for its channel's close) must not wake the loop: epoll reports EPOLLHUP
    /// whatever the mask, so with the fd left in the set every wait returned at once and
    /// the daemon spun at 100% CPU. With no interest the fd is out of the set; asking for
    /// reads again puts it back and the hang-up is seen.
    func testHungUpSocketWithNoInterestDoesNotSpinTheLoop() throws {
        let loop = try EventLoop()
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer { close(fds[0]) }
        final class Counter: IOHandler {
            var events = 0
            var hangups = 0
            func handleIO(_ e: IOEvents) { events += 1; if e.hangup { hangups += 1 } }
        }
        let counter = Counter()
        let token = loop.register(fd: fds[0], interest: .read, handler: counter)
        loop.setInterest(token, [])
        close(fds[1])   // the peer is gone: EPOLLHUP on fds[0] from now on
        var iterations = 0
        func tick() {
            iterations += 1
            if iterations < 50 { loop.runBeforeSleep(tick) } else { loop.stop() }
        }
        loop.runBeforeSleep(tick)   // 50 iterations that poll without sleeping
        loop.run()
        XCTAssertEqual(counter.events, 0, "no event for an fd nobody listens to")
        loop.setInterest(token, .read)
        loop.schedule(after: .milliseconds(100)) { loop.stop() }
        loop.run()
        XCTAssertGreaterThan(counter.hangups, 0, "back in the set, the hang-up is reported")
        loop.setInterest(token, [])
        loop.unregister(token)
        XCTAssertEqual(loop.registrationCount, 0)
    }
}
