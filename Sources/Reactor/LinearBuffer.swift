/// A fixed-capacity byte buffer whose unread bytes never move while a consumer may
/// be holding a pointer to them: bytes are appended after `end`, consumed from
/// `start`, and the space is reclaimed only when the buffer is empty or when the
/// caller says compaction is safe (libssh2 1.10 must see the same bytes again when
/// it retries a half-sent write, notes pitfall 6).
public final class LinearBuffer {
    public let capacity: Int
    private let base: UnsafeMutableRawPointer
    public private(set) var start = 0
    public private(set) var end = 0

    public init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    public var count: Int { end - start }
    public var isEmpty: Bool { start == end }
    /// Free space after `end`.
    public var room: Int { capacity - end }
    public var readable: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base + start, count: count) }
    public var writable: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base + end, count: room) }

    public func commit(_ n: Int) {
        precondition(n >= 0 && n <= room, "commit past capacity")
        end += n
    }

    public func consume(_ n: Int) {
        precondition(n >= 0 && n <= count, "consume past end")
        start += n
        if start == end { start = 0; end = 0 }
    }

    /// Moves the unread bytes to the front; only when no one holds a pointer into them.
    public func compact() {
        guard start > 0 else { return }
        if count > 0 { (base).copyMemory(from: base + start, byteCount: count) }
        end -= start
        start = 0
    }
}
