/// Maps (method, path) to a handler; `{name}` segments capture path parameters.
/// Tells "no such path" (404) from "path exists, method does not" (405).
public struct Router<Handler> {
    public enum Match {
        case found(Handler, parameters: [String: String])
        /// The path exists for these methods only.
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    // Matching is done by the non-generic RouteTable: Router is used from other modules,
    // where generic code runs unspecialized (perf showed value-witness and metadata calls
    // for every route looked at); only the handler lookup by index stays generic.
    private var table = RouteTable()
    private var handlers: [Handler] = []

    public init() {}

    /// Adds a route such as `GET /api/remote/connections/{id}`.
    public mutating func add(_ method: String, _ pattern: String, _ handler: Handler) {
        table.add(method, pattern, index: handlers.count)
        handlers.append(handler)
    }

    /// Finds the handler for a raw path; parameters are percent-decoded (an undecodable
    /// parameter does not match).
    public func match(method: String, path: Substring) -> Match {
        switch table.match(method: method, path: path) {
        case .found(let index, let parameters): return .found(handlers[index], parameters: parameters)
        case .methodNotAllowed(let allowed): return .methodNotAllowed(allowed: allowed)
        case .notFound: return .notFound
        }
    }
}

/// (method, path) -> route index. Tells "no such path" (404) from "path exists, method
/// does not" (405).
struct RouteTable {
    enum Match {
        case found(Int, parameters: [String: String])
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    private enum Segment: Equatable {
        case literal(Substring)
        case parameter(String)
    }

    private struct Route {
        let method: String
        let segments: [Segment]
        let index: Int
    }

    private struct LiteralRoute {
        let path: [UInt8]
        let method: String
        let index: Int
    }

    private var routes: [Route] = []
    /// Routes without parameters, by a hash of their path's bytes: found without
    /// splitting and without String hashing (which normalizes Unicode; perf showed the
    /// String-keyed lookup at 7% of the API path).
    private var literal: [UInt64: [LiteralRoute]] = [:]

    mutating func add(_ method: String, _ pattern: String, index: Int) {
        let segments = RouteTable.split(pattern[...]).map { part -> Segment in
            if part.hasPrefix("{") && part.hasSuffix("}") {
                return .parameter(String(part.dropFirst().dropLast()))
            }
            return .literal(part)
        }
        precondition(!routes.contains { $0.method == method && $0.segments == segments },
                     "duplicate route \(method) \(pattern)")
        routes.append(Route(method: method, segments: segments, index: index))
        if !segments.contains(where: { if case .parameter = $0 { return true }; return false }) {
            let path = "/" + segments.map { if case .literal(let t) = $0 { return String(t) }; return "" }.joined(separator: "/")
            let bytes = Array(path.utf8)
            let key = bytes.withUnsafeBytes { RouteTable.hash($0) }
            literal[key, default: []].append(LiteralRoute(path: bytes, method: method, index: index))
        }
    }

    func match(method requested: String, path: Substring) -> Match {
        // HEAD is GET without the body (RFC 9110: every GET resource answers HEAD too).
        let method = requested == "HEAD" ? "GET" : requested
        let exact: Int?? = path.utf8.withContiguousStorageIfAvailable { utf8 in
            let raw = UnsafeRawBufferPointer(utf8)
            guard let bucket = literal[RouteTable.hash(raw)] else { return nil }
            return bucket.first { route in
                route.method == method && route.path.count == raw.count && route.path.withUnsafeBytes { $0.elementsEqual(raw) }
            }?.index
        }
        if case .some(.some(let index)) = exact { return .found(index, parameters: [:]) }
        // Parameter routes may still share this path shape (e.g. /a/{x} vs /a/b).
        let parts = RouteTable.split(path)
        var allowed: [String] = []
        for route in routes {
            guard let parameters = RouteTable.bind(route.segments, to: parts) else { continue }
            if route.method == method { return .found(route.index, parameters: parameters) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    /// FNV-1a over the path's bytes.
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }

    private static func bind(_ segments: [Segment], to parts: [Substring]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let text):
                guard text == part else { return nil }
            case .parameter(let name):
                guard !part.isEmpty, let value = PercentDecoding.decode(part, plusIsSpace: false) else { return nil }
                parameters[name] = value
            }
        }
        return parameters
    }

    /// `/a/b/` and `/a/b` are the same route; empty segments in between are kept so
    /// `/a//b` does not match `/a/b`.
    private static func split(_ path: Substring) -> [Substring] {
        var p = path
        if p.hasPrefix("/") { p = p.dropFirst() }
        if p.hasSuffix("/") { p = p.dropLast() }
        if p.isEmpty { return [] }
        return p.split(separator: "/", omittingEmptySubsequences: false)
    }
}
