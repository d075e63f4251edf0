import Glibc
import RemoteAPI

/// The CLI's way to the daemon: one blocking HTTP/1.1 request per call over a loopback
/// socket (the CLI is a short-lived client; the daemon's reactor does the concurrency).
struct APIClient {
    /// What the daemon answered: its status and its JSON body.
    struct Answer {
        let status: Int
        let body: JSON
        var ok: Bool { (200..<300).contains(status) && body["success"] != .bool(false) }
        var error: String { body["error"].flatMap(\.string) ?? "http_\(status)" }
        var message: String { body["message"].flatMap(\.string) ?? "HTTP \(status)" }
    }

    /// The daemon did not answer at all.
    struct Unreachable: Error, CustomStringConvertible {
        let api: String
        let reason: String
        var description: String { "the rviewer daemon does not answer at \(api) (\(reason)); start it with `rviewer serve` or `make run`" }
    }

    /// An answer longer than this is not the daemon's (its largest are log tails of 10,000 lines).
    static let maxAnswerBytes = 64 << 20
    /// A connect may wait for a login (the API's own timeout is at most 600 s) and a viewer start for 60 s.
    static let timeoutSeconds = 660

    let base: String
    let host: String
    let port: Int

    /// `http://HOST:PORT` (the only form the daemon serves).
    init(_ url: String) throws {
        var rest = Substring(url)
        guard rest.hasPrefix("http://") else { throw CLIError.usage("--api must be http://HOST:PORT, got '\(url)'") }
        rest = rest.dropFirst("http://".count)
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
            throw CLIError.usage("--api must be http://HOST:PORT, got '\(url)'")
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        base = "http://" + rest
        self.host = host
        self.port = port
    }

    func get(_ path: String) throws -> Answer { try request("GET", path) }
    func post(_ path: String, _ body: JSON) throws -> Answer { try request("POST", path, body: body) }
    func delete(_ path: String) throws -> Answer { try request("DELETE", path) }

    func request(_ method: String, _ path: String, body: JSON? = nil) throws -> Answer {
        let fd = try connect()
        defer { close(fd) }
        let payload = body?.encoded() ?? []
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host.contains(":") ? "[\(host)]" : host):\(port)\r\nConnection: close\r\n"
        head += "User-Agent: rviewer-cli/\(rviewerVersion)\r\n"
        if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        try send(fd, Array((head + "\r\n").utf8) + payload)
        let raw = try receive(fd)
        return try parse(raw)
    }

    private func connect() throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw Unreachable(api: base, reason: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let ai = node {
            let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd >= 0 {
                var tv = timeval(tv_sec: Self.timeoutSeconds, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return fd }
                lastError = errno
                close(fd)
            }
            node = ai.pointee.ai_next
        }
        throw Unreachable(api: base, reason: String(cString: strerror(lastError)))
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Unreachable(api: base, reason: String(cString: strerror(errno)))
            }
            sent += n
        }
    }

    private func receive(_ fd: Int32) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while out.count <= Self.maxAnswerBytes {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return out }
            if n < 0 {
                if errno == EINTR { continue }
                throw Unreachable(api: base, reason: errno == EAGAIN ? "no answer within \(Self.timeoutSeconds) s" : String(cString: strerror(errno)))
            }
            out.append(contentsOf: buffer[0..<n])
        }
        throw Unreachable(api: base, reason: "an answer over \(Self.maxAnswerBytes) bytes")
    }

    /// Status line, headers (Content-Length if any), JSON body.
    private func parse(_ raw: [UInt8]) throws -> Answer {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = raw.indices.first(where: { raw[$0...].starts(with: separator) }) else {
            throw Unreachable(api: base, reason: "not an HTTP answer")
        }
        let head = String(decoding: raw[..<end], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw Unreachable(api: base, reason: "not an HTTP answer")
        }
        let body = Array(raw[(end + 4)...])
        let json = (try? JSONParser.parse(body)) ?? .object([("success", .bool(false)), ("error", .string("bad_answer")),
                                                              ("message", .string(String(decoding: body.prefix(200), as: UTF8.self)))])
        return Answer(status: status, body: json)
    }
}

extension JSON {
    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var int: Int? { if case .number(let d) = self { return Int(d) } else { return nil } }
    var array: [JSON] { if case .array(let a) = self { return a } else { return [] } }
    var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
}
