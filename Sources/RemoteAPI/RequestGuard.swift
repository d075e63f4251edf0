import HTTP1

/// Checks every request must pass before routing: the DNS-rebinding guard on `Host`,
/// the cross-site guard on `Origin`, and JSON-only bodies (decisions.md, "Errors").
public struct RequestGuard {
    /// The port the API listens on; the only web origin allowed to drive it.
    public let port: Int

    public init(port: Int) { self.port = port }

    public func check(_ request: HTTPRequest) throws {
        guard let host = request.header("Host") else {
            throw APIError.forbiddenHost("Missing Host header; the API answers loopback names only")
        }
        guard RequestGuard.isLoopback(hostHeader: host) else {
            throw APIError.forbiddenHost("Host '\(host)' is not a loopback name")
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
    public static func isLoopback(hostHeader: String) -> Bool {
        var name = Substring(hostHeader.lowercased())
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return false }
            let rest = name[name.index(after: close)...]
            guard rest.isEmpty || validPort(rest) else { return false }
            return name[name.index(after: name.startIndex)..<close] == "::1"
        }
        if let colon = name.firstIndex(of: ":") {
            guard validPort(name[colon...]) else { return false }
            name = name[..<colon]
        }
        if name.hasSuffix(".") { name = name.dropLast() }
        if name == "localhost" || name.hasSuffix(".localhost") { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { o in !o.isEmpty && o.count <= 3 && o.allSatisfy(\.isNumber) && Int(o)! <= 255 }
    }

    private static func validPort(_ s: Substring) -> Bool {
        guard s.first == ":" else { return false }
        let digits = s.dropFirst()
        return !digits.isEmpty && digits.count <= 5 && digits.allSatisfy(\.isNumber) && Int(digits)! <= 65535
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
