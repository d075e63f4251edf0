/// Maps (method, path) to a handler; `{name}` segments capture path parameters.
/// Tells "no such path" (404) from "path exists, method does not" (405).
public struct Router<Handler> {
    public enum Match {
        case found(Handler, parameters: [String: String])
        /// The path exists for these methods only.
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
        let handler: Handler
    }

    private var routes: [Route] = []
    /// Routes without parameters by exact path, for a lookup without splitting.
    private var literal: [String: [(method: String, handler: Handler)]] = [:]

    public init() {}

    /// Adds a route such as `GET /api/remote/connections/{id}`.
    public mutating func add(_ method: String, _ pattern: String, _ handler: Handler) {
        let segments = Router.split(pattern[...]).map { part -> Segment in
            if part.hasPrefix("{") && part.hasSuffix("}") {
                return .parameter(String(part.dropFirst().dropLast()))
            }
            return .literal(part)
        }
        precondition(!routes.contains { $0.method == method && $0.segments == segments },
                     "duplicate route \(method) \(pattern)")
        routes.append(Route(method: method, segments: segments, handler: handler))
        if !segments.contains(where: { if case .parameter = $0 { return true }; return false }) {
            literal["/" + segments.map { if case .literal(let t) = $0 { return String(t) }; return "" }.joined(separator: "/"), default: []]
                .append((method, handler))
        }
    }

    /// Finds the handler for an already percent-decoded-free raw path; parameters are
    /// percent-decoded (an undecodable parameter does not match).
    public func match(method: String, path: Substring) -> Match {
        if let exact = literal[String(path)] {
            if let hit = exact.first(where: { $0.method == method }) { return .found(hit.handler, parameters: [:]) }
            // Parameter routes may still share this path shape (e.g. /a/{x} vs /a/b): fall through.
        }
        let parts = Router.split(path)
        var allowed: [String] = []
        for route in routes {
            guard let parameters = Router.bind(route.segments, to: parts) else { continue }
            if route.method == method { return .found(route.handler, parameters: parameters) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
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
