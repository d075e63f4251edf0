import Glibc

/// ISO-8601 UTC timestamps with a `Z`, second precision (decisions.md).
public enum Timestamp {
    public static func now() -> String { format(time(nil)) }

    public static func format(_ t: time_t) -> String {
        var t = t
        var parts = tm()
        gmtime_r(&t, &parts)
        var buf = [CChar](repeating: 0, count: 32)
        let n = strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
