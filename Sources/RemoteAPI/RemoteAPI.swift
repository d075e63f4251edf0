import HTTP1
import Reactor

/// The Remote Viewer REST API: guards every request, routes it and maps the answer
/// (or the error) to HTTP. Handlers may answer later; the reply runs on the loop.
public final class RemoteAPI: HTTPResponder {
    /// What a handler gets: the request, its path parameters, and its reply channel.
    public struct Call {
        public let request: HTTPRequest
        public let pathParameters: [String: String]
        let reply: (HTTPResponse) -> Void

        /// The query string's parameters; a malformed escape is a 400.
        public func query() throws -> Parameters { try Parameters(query: request.query) }
        /// The JSON body's parameters; malformed JSON or a non-object is a 400.
        public func body() throws -> Parameters { try Parameters(body: request.body) }

        public func succeed(_ members: [(String, JSON)]) { reply(Responses.ok(members)) }
        public func fail(_ error: APIError) { reply(error.response) }
    }

    /// A handler answers through `call`, now or later; a thrown `APIError` answers at once.
    public typealias Handler = (Call) throws -> Void

    private var router = Router<(pattern: String, handler: Handler)>()
    /// Requests answered, by route and status, and their latency (`GET /metrics`).
    let requestStats = RequestStats()
    private let limits: HTTPLimits
    /// The port the API is served on (known once the listener is bound); the Origin
    /// guard allows only pages served from it.
    public var listenPort: Int = 0
    /// Where endpoints report what they did (the executable wires it to its logger).
    /// Messages never carry request secrets.
    public var log: (String) -> Void = { _ in }
    /// Open `GET /api/events` streams (for the metrics).
    public internal(set) var eventStreamCount: () -> Int = { 0 }
    /// The last Host header that passed the loopback check (clients repeat theirs).
    private var lastLoopbackHost: String?

    public init(limits: HTTPLimits) {
        self.limits = limits
    }

    public func add(_ method: String, _ pattern: String, _ handler: @escaping Handler) {
        router.add(method, pattern, (pattern, handler))
        routes.append((method, pattern))
    }

    /// Every (method, pattern) served, in the order added (the OpenAPI document must
    /// name each: RemoteAPITests).
    public private(set) var routes: [(method: String, pattern: String)] = []

    public func respond(to request: HTTPRequest, reply answer: @escaping (HTTPResponse) -> Void) {
        let started = MonotonicClock.now()
        var route = "(none)"   // a request no route took: the guards', 404s and 405s
        let stats = requestStats
        let method = request.method.count <= 16 ? request.method : "(other)"
        let reply = { (response: HTTPResponse) in
            stats.record(route: route, method: method, status: response.status,
                         seconds: Double(MonotonicClock.now() &- started) / 1e9)
            answer(response)
        }
        do {
            try RequestGuard(port: listenPort).check(request, knownLoopbackHost: &lastLoopbackHost)
            switch router.match(method: request.method, path: request.path) {
            case .found(let entry, let parameters):
                route = entry.pattern
                try entry.handler(Call(request: request, pathParameters: parameters, reply: reply))
            case .methodNotAllowed(let allowed):
                var error = APIError.methodNotAllowed("\(request.method) is not allowed on \(request.path); use \(allowed.joined(separator: ", "))")
                error.allow = allowed.joined(separator: ", ")
                throw error
            case .notFound:
                throw APIError.notFound("No route for \(request.method) \(request.path)")
            }
        } catch let error as APIError {
            reply(error.response)
        } catch {
            reply(APIError.internalError("Unexpected error: \(error)").response)
        }
    }

    public func errorResponse(for error: HTTPParseError) -> HTTPResponse {
        APIError(error, limits: limits).response
    }
}
