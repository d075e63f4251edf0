import HTTP1

/// Checks every request must pass before routing: the DNS-rebinding guard on `Host`,
/// the cross-site guard on `Origin`, and JSON-only bodies (decisions.md, "Errors").
public struct RequestGuard {
    /// The port the API listens on; the only web origin allowed to drive it.
    public let port: Int

    public init(port: Int) { self.port = port }

    /// `knownLoopbackHost` is a Host value that passed before (compared instead of parsed
    /// again; nil: none yet) and is updated when another one passes.
    public func check(_ request: HTTPRequest, knownLoopbackHost: inout String?) throws {
        guard let host = request.header("Host") else {
            throw APIError.forbiddenHost("Missing Host header; the API answers loopback names only")
        }
        if host != knownLoopbackHost {
            guard RequestGuard.isLoopback(hostHeader: host) else {
                throw APIError.forbiddenHost("Host '\(host)' is not a loopback name")
            }
            knownLoopbackHost = host
        }
        if let origin = request.header("Origin"), !isOwnOrigin(origin) {
            throw APIError.forbiddenOrigin("Origin '\(origin)' may not use this API")
        }
        if request.hasBody || !request.body.isEmpty {
            let type = request.header("Content-Type") ?? ""
            let mime = type.split(separator: ";").first.map { $0.trimmingSpaces().lowercased() } ?? ""
            guard mime == "application/json" else {
                throw APIError.unsupportedMediaType("Request body must be application/json, got '\(type.isEmpty ? "none" : type)'")
            }
        }
    }

    /// `localhost`, `*.localhost`, 127.0.0.0/8 and `[::1]`, with or without a port.
    /// Works on the ASCII bytes: this runs for every request.
    public static func isLoopback(hostHeader: String) -> Bool {
        var bytes = Array(hostHeader.utf8)
        for i in bytes.indices where bytes[i] >= 0x41 && bytes[i] <= 0x5A { bytes[i] |= 0x20 }
        var name = bytes[...]
        if name.first == UInt8(ascii: "[") {
            guard let close = name.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let rest = name[(close + 1)...]
            guard rest.isEmpty || validPort(rest) else { return false }
            return name[(name.startIndex + 1)..<close].elementsEqual("::1".utf8)
        }
        if let colon = name.firstIndex(of: UInt8(ascii: ":")) {
            guard validPort(name[colon...]) else { return false }
            name = name[..<colon]
        }
        if name.last == UInt8(ascii: ".") { name = name.dropLast() }
        if name.elementsEqual("localhost".utf8) { return true }
        if name.count > 10, name.suffix(10).elementsEqual(".localhost".utf8) { return true }
        let octets = name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0].elementsEqual("127".utf8) else { return false }
        return octets.allSatisfy { decimal($0, max: 255) != nil }
    }

    private static func validPort(_ s: ArraySlice<UInt8>) -> Bool {
        s.first == UInt8(ascii: ":") && decimal(s.dropFirst(), max: 65535) != nil
    }

    /// A run of 1...5 ASCII digits not above `max`.
    private static func decimal(_ s: ArraySlice<UInt8>, max: Int) -> Int? {
        guard !s.isEmpty, s.count <= 5 else { return nil }
        var v = 0
        for c in s {
            guard c >= 0x30, c <= 0x39 else { return nil }
            v = v * 10 + Int(c - 0x30)
        }
        return v <= max ? v : nil
    }

    /// The daemon's own origins: http://localhost:PORT, http://127.0.0.1:PORT, http://[::1]:PORT.
    func isOwnOrigin(_ origin: String) -> Bool {
        let o = origin.lowercased()
        return ["http://localhost:\(port)", "http://127.0.0.1:\(port)", "http://[::1]:\(port)"].contains(o)
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
