/// `application/x-www-form-urlencoded` decoding for query strings and path parameters.
public enum PercentDecoding {
    /// Decodes `%XX` escapes (and `+` as space when asked); nil for a malformed
    /// escape or bytes that are not UTF-8.
    public static func decode(_ text: Substring, plusIsSpace: Bool) -> String? {
        let utf8 = text.utf8
        guard utf8.contains(UInt8(ascii: "%")) || (plusIsSpace && utf8.contains(UInt8(ascii: "+"))) else {
            return String(text)
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var i = utf8.startIndex
        while i != utf8.endIndex {
            let c = utf8[i]
            if c == UInt8(ascii: "%") {
                let h = utf8.index(after: i)
                guard h != utf8.endIndex else { return nil }
                let l = utf8.index(after: h)
                guard l != utf8.endIndex, let hi = hex(utf8[h]), let lo = hex(utf8[l]) else { return nil }
                out.append(hi << 4 | lo)
                i = utf8.index(after: l)
                continue
            }
            out.append(plusIsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
            i = utf8.index(after: i)
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// A decoded query string. Repeated keys keep every value; `first` takes the first.
public struct QueryString: Equatable {
    public private(set) var items: [(key: String, value: String)] = []

    public enum DecodeError: Error, Equatable {
        /// The named part (key or key=value) has a bad escape or is not UTF-8.
        case malformed(String)
    }

    /// Splits on the bytes `&` and `=` (ASCII, so always character boundaries): a
    /// Character-wise split was 10% of a request to an endpoint with a query (perf).
    public init(_ raw: Substring) throws {
        for bytes in raw.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let part = Substring(bytes)
            let eq = bytes.firstIndex(of: UInt8(ascii: "="))
            let rawKey = eq.map { part[..<$0] } ?? part
            let rawValue = eq.map { part[part.utf8.index(after: $0)...] } ?? ""
            guard let key = PercentDecoding.decode(rawKey, plusIsSpace: true),
                  let value = PercentDecoding.decode(rawValue, plusIsSpace: true) else {
                throw DecodeError.malformed(String(rawKey))
            }
            items.append((key, value))
        }
    }

    public func first(_ key: String) -> String? {
        items.first { $0.key == key }?.value
    }

    public static func == (a: QueryString, b: QueryString) -> Bool {
        a.items.elementsEqual(b.items) { $0.key == $1.key && $0.value == $1.value }
    }
}
