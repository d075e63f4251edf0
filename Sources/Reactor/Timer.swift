/// A re-armable one-shot timer owned by one object (a connection, a session).
///
/// Re-arming to a later deadline does not touch the heap: the heap entry fires,
/// sees the deadline moved, and queues itself again. Keep-alive and request
/// timers re-arm on every request, so this keeps the heap at about one entry
/// per live timer instead of one per request.
public final class Timer {
    /// When the timer fires; nil while disarmed.
    public internal(set) var deadline: UInt64?
    /// The earliest deadline at which this timer has an entry in the heap.
    var queuedAt: UInt64?
    let callback: () -> Void

    init(callback: @escaping () -> Void) {
        self.callback = callback
    }

    public var isArmed: Bool { deadline != nil }
}
