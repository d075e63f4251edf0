import HTTP1

/// An error as the API reports it: status, machine-readable code, human message.
/// Rendered in the unified `{"success": false, "error", "message"}` form.
public struct APIError: Error, Equatable, Sendable {
    public let status: Int
    public let code: String
    public let message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static func invalidParameters(_ message: String) -> APIError {
        APIError(status: 400, code: "invalid_parameters", message: message)
    }
    public static func notFound(_ message: String) -> APIError {
        APIError(status: 404, code: "not_found", message: message)
    }
    public static func methodNotAllowed(_ message: String) -> APIError {
        APIError(status: 405, code: "method_not_allowed", message: message)
    }
    public static func forbiddenHost(_ message: String) -> APIError {
        APIError(status: 403, code: "forbidden_host", message: message)
    }
    public static func forbiddenOrigin(_ message: String) -> APIError {
        APIError(status: 403, code: "forbidden_origin", message: message)
    }
    public static func unsupportedMediaType(_ message: String) -> APIError {
        APIError(status: 415, code: "unsupported_media_type", message: message)
    }
    public static func internalError(_ message: String) -> APIError {
        APIError(status: 500, code: "internal_error", message: message)
    }
    /// Another local user's process (decisions.md, "Same-user guard").
    public static func forbiddenUser() -> APIError {
        APIError(status: 403, code: "forbidden_user", message: "This rviewer serves only its own user's processes (config allow_other_users)")
    }
    public static func shuttingDown() -> APIError {
        APIError(status: 503, code: "shutting_down", message: "The daemon is shutting down")
    }

    /// Maps what the HTTP layer refused to the API's codes.
    public init(_ error: HTTPParseError, limits: HTTPLimits) {
        switch error {
        case .headTooLarge:
            self = APIError(status: 431, code: "headers_too_large",
                            message: "Request head exceeds \(limits.maxHeadBytes) bytes or \(limits.maxHeaderCount) header lines")
        case .bodyTooLarge:
            self = APIError(status: 413, code: "payload_too_large",
                            message: "Request body exceeds \(limits.maxBodyBytes) bytes")
        case .malformed(let reason):
            self = APIError(status: 400, code: "bad_request", message: "Malformed HTTP request: \(reason)")
        }
    }

    public var json: JSON {
        .object([("success", .bool(false)), ("error", .string(code)), ("message", .string(message))] + (extra.map { [$0] } ?? []))
    }

    /// One extra member after the unified three (e.g. `host_key` on 403 host_key_mismatch).
    public var extra: (String, JSON)? {
        get { extraMember.map { ($0.name, $0.value) } }
        set { extraMember = newValue.map { ExtraMember(name: $0.0, value: $0.1) } }
    }
    private var extraMember: ExtraMember?
    private struct ExtraMember: Equatable, Sendable {
        let name: String
        let value: JSON
    }

    public var response: HTTPResponse {
        var headers = Responses.jsonHeaders
        if status == 405, let allow = allow { headers.append(("Allow", allow)) }
        return HTTPResponse(status: status, headers: headers, body: json.encoded())
    }

    /// The `Allow` header value for a 405.
    var allow: String?
}

public enum Responses {
    static let jsonHeaders: [(name: String, value: String)] = [("Content-Type", "application/json")]

    /// 200 with `{"success": true, ...members}`.
    public static func ok(_ members: [(String, JSON)]) -> HTTPResponse {
        HTTPResponse(status: 200, headers: jsonHeaders,
                     body: JSON.object([("success", .bool(true))] + members).encoded())
    }
}
