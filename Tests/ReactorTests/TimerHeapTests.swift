import XCTest
@testable import Reactor

final class TimerHeapTests: XCTestCase {
    func testPopsInDeadlineOrder() {
        var heap = TimerHeap<Int>()
        for (i, d) in [50, 10, 40, 30, 20, 60, 0].enumerated() { heap.push(i, deadline: UInt64(d)) }
        var out: [UInt64] = []
        while let e = heap.popMin() { out.append(e.deadline) }
        XCTAssertEqual(out, [0, 10, 20, 30, 40, 50, 60])
    }

    func testEqualDeadlinesFireInArmOrder() {
        var heap = TimerHeap<String>()
        for name in ["a", "b", "c", "d"] { heap.push(name, deadline: 5) }
        var out: [String] = []
        while let e = heap.popMin() { out.append(e.element) }
        XCTAssertEqual(out, ["a", "b", "c", "d"])
    }

    func testPopExpiredStopsAtNow() {
        var heap = TimerHeap<Int>()
        heap.push(1, deadline: 10)
        heap.push(2, deadline: 20)
        XCTAssertEqual(heap.popExpired(now: 15)?.element, 1)
        XCTAssertNil(heap.popExpired(now: 15))
        XCTAssertEqual(heap.minDeadline, 20)
    }

    func testRandomizedAgainstSort() {
        var rng = SystemRandomNumberGenerator()
        var heap = TimerHeap<Int>()
        var all: [UInt64] = []
        for i in 0..<2000 {
            let d = UInt64.random(in: 0..<500, using: &rng)
            all.append(d)
            heap.push(i, deadline: d)
        }
        var out: [UInt64] = []
        while let e = heap.popMin() { out.append(e.deadline) }
        XCTAssertEqual(out, all.sorted())
    }
}
