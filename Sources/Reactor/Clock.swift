import Glibc

/// Nanoseconds on CLOCK_MONOTONIC; every deadline in rviewer is measured on it.
public enum MonotonicClock {
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

public extension UInt64 {
    static func milliseconds(_ ms: Int) -> UInt64 { UInt64(Swift.max(ms, 0)) &* 1_000_000 }
    static func seconds(_ s: Double) -> UInt64 { UInt64(Swift.max(s, 0) * 1e9) }
}
