/// A binary min-heap of deadlines, ordered by (deadline, insertion sequence) so
/// timers with equal deadlines fire in the order they were armed (libuv's
/// `start_id` tiebreak, src/timer.c). Pure data: tested without a loop.
public struct TimerHeap<Element> {
    public struct Entry {
        public let deadline: UInt64
        let sequence: UInt64
        public let element: Element
    }

    private var entries: [Entry] = []
    private var nextSequence: UInt64 = 0

    public init() {}

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    /// The earliest deadline, if any.
    public var minDeadline: UInt64? { entries.first?.deadline }

    public mutating func push(_ element: Element, deadline: UInt64) {
        entries.append(Entry(deadline: deadline, sequence: nextSequence, element: element))
        nextSequence &+= 1
        siftUp(entries.count - 1)
    }

    /// Removes and returns the earliest entry when its deadline is at or before `now`.
    public mutating func popExpired(now: UInt64) -> Entry? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        return popMin()
    }

    public mutating func popMin() -> Entry? {
        guard !entries.isEmpty else { return nil }
        entries.swapAt(0, entries.count - 1)
        let top = entries.removeLast()
        if !entries.isEmpty { siftDown(0) }
        return top
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        let x = entries[a], y = entries[b]
        return x.deadline != y.deadline ? x.deadline < y.deadline : x.sequence < y.sequence
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { return }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        let n = entries.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { return }
            var smallest = left
            if left + 1 < n, less(left + 1, left) { smallest = left + 1 }
            guard less(smallest, parent) else { return }
            entries.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
