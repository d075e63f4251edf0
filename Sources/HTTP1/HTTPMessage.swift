/// One parsed HTTP/1.1 request. Header names keep their case; lookups ignore it.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as sent: path plus optional `?query`.
    public var target: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var keepAlive: Bool
    /// True when the body came with Transfer-Encoding: chunked or Content-Length.
    public var hasBody: Bool

    public init(method: String, target: String, headers: [(name: String, value: String)] = [],
                body: [UInt8] = [], keepAlive: Bool = true, hasBody: Bool = false) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
        self.hasBody = hasBody
    }

    /// The path part of the target (before `?`).
    public var path: Substring {
        questionMark.map { target[..<$0] } ?? target[...]
    }

    /// The raw query string (after `?`), not yet decoded.
    public var query: Substring {
        questionMark.map { target[target.utf8.index(after: $0)...] } ?? ""
    }

    /// Searched byte-wise: a Character search walked grapheme boundaries on every request
    /// (perf: String index stepping was the top Swift cost of the API path).
    private var questionMark: String.Index? { target.utf8.firstIndex(of: UInt8(ascii: "?")) }

    /// The first value of a header, case-insensitively.
    public func header(_ name: String) -> String? {
        for h in headers where asciiCaseInsensitiveEqual(h.name, name) { return h.value }
        return nil
    }
}

/// Header names are ASCII; comparing bytes avoids Unicode case mapping per lookup.
@inline(__always)
func asciiCaseInsensitiveEqual(_ a: String, _ b: String) -> Bool {
    let x = a.utf8, y = b.utf8
    guard x.count == y.count else { return false }
    for (c, d) in zip(x, y) where c != d {
        guard c | 0x20 == d | 0x20, (c | 0x20) >= 0x61, (c | 0x20) <= 0x7A else { return false }
    }
    return true
}

/// A response to be written. Bodies are JSON for every route rviewer serves.
public struct HTTPResponse: @unchecked Sendable {   // the stream is used on the loop thread only
    /// The interim response a client that sent `Expect: 100-continue` waits for.
    static let continueLine: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// A body that goes on after the head (`body` is then its first piece): the head
    /// carries no Content-Length and the connection ends with the stream.
    public var stream: HTTPStream?

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = [], stream: HTTPStream? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream
    }

    /// Appends the wire form to `out`. `keepAlive: false` adds `Connection: close`.
    /// `head`: the answer to a HEAD request: the same head (Content-Length of the body it
    /// would have), no body (RFC 9110 9.3.2).
    public func serialize(keepAlive: Bool, head: Bool = false, into out: inout [UInt8]) {
        out.appendUTF8("HTTP/1.1 \(status) \(HTTPResponse.reason(status))\r\n")
        for h in headers {
            out.appendUTF8(h.name)
            out.appendUTF8(": ")
            out.appendUTF8(h.value)
            out.appendUTF8("\r\n")
        }
        if stream == nil { out.appendUTF8("Content-Length: \(body.count)\r\n") }
        if !keepAlive || stream != nil { out.appendUTF8("Connection: close\r\n") }
        out.appendUTF8("\r\n")
        if !head { out.append(contentsOf: body) }
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 413: return "Payload Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends a string's UTF-8 bytes without an intermediate array.
    public mutating func appendUTF8(_ string: String) {
        var string = string
        string.withUTF8 { append(contentsOf: $0) }
    }
}
