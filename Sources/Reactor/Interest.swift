import CLinuxSys

/// What a registration wants to hear about. Level-triggered, like Redis and libuv:
/// `.read` stays on, `.write` only while output is pending (notes §0.1).
public struct Interest: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = Interest(rawValue: 1)
    public static let write = Interest(rawValue: 2)
    /// The peer's FIN (EPOLLRDHUP) while not reading. Level-triggered, so it keeps
    /// firing: ask for it only until it has been seen once.
    public static let peerClose = Interest(rawValue: 4)

    var epollMask: UInt32 {
        var mask: UInt32 = 0
        if contains(.read) || contains(.peerClose) { mask |= EPOLLRDHUP.rawValue }
        if contains(.read) { mask |= EPOLLIN.rawValue }
        if contains(.write) { mask |= EPOLLOUT.rawValue }
        return mask
    }
}

/// What epoll reported for one registration.
public struct IOEvents: Sendable {
    public let readable: Bool
    public let writable: Bool
    /// The peer closed its side (EPOLLRDHUP/EPOLLHUP) or the socket has an error.
    /// A half-close alone (RDHUP) is not an error: data may still flow the other way.
    public let hangup: Bool
    /// EPOLLERR: the socket failed.
    public let error: Bool

    init(mask: UInt32) {
        let err = mask & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0
        readable = mask & EPOLLIN.rawValue != 0 || err
        writable = mask & EPOLLOUT.rawValue != 0 || err
        hangup = err || mask & EPOLLRDHUP.rawValue != 0
        error = mask & EPOLLERR.rawValue != 0
    }
}

/// Whoever owns an fd registered with the loop.
public protocol IOHandler: AnyObject {
    func handleIO(_ events: IOEvents)
}

/// Names one registration: `generation << 32 | slot` (SwiftNIO's EPollUserData idea), so
/// an event queued for a registration that was removed in the same batch is dropped.
public struct Token: Hashable, Sendable {
    let raw: UInt64
    var slot: Int { Int(raw & 0xffff_ffff) }
    var generation: UInt32 { UInt32(truncatingIfNeeded: raw >> 32) }
    init(slot: Int, generation: UInt32) { raw = UInt64(generation) << 32 | UInt64(slot) }
}
