import CLLHTTP

/// Why a request could not be parsed; the connection answers it and closes.
public enum HTTPParseError: Error, Equatable {
    /// Request line + headers over `maxHeadBytes` or `maxHeaderCount`: 431.
    case headTooLarge
    /// Declared or received body over `maxBodyBytes`: 413.
    case bodyTooLarge
    /// Anything llhttp rejects (bad syntax, smuggling guards, bare LF): 400.
    case malformed(String)
}

/// llhttp behind a small API: feed bytes, get at most one complete request back.
///
/// One `llhttp_t` per connection at a stable address; spans are copied into this
/// object as they arrive, so the read buffer is free again once `feed` returns
/// (Node's `Save()` rule). Parsing pauses at every message end (HPE_PAUSED from
/// `on_message_complete`), which gives one request at a time and pipelining order.
public final class HTTPParser {
    public enum Result: Equatable {
        /// All bytes consumed, no complete request yet.
        case needMore
        /// A request is complete; `consumed` bytes of the input were used.
        case request(consumed: Int)
        case failed(HTTPParseError)
    }

    private let parser: UnsafeMutablePointer<llhttp_t>
    private let limits: HTTPLimits
    private var paused = false
    private var failed = false

    // Per-message state, filled by the callbacks.
    fileprivate var url: [UInt8] = []
    fileprivate var field: [UInt8] = []
    fileprivate var value: [UInt8] = []
    fileprivate var fieldComplete = false
    fileprivate var headers: [(name: String, value: String)] = []
    fileprivate var body: [UInt8] = []
    fileprivate var headBytes = 0
    fileprivate var hasBody = false
    /// The head asked for `100 Continue` before its body (`Expect: 100-continue`).
    fileprivate var continueExpected = false
    fileprivate var error: HTTPParseError?
    fileprivate var complete: HTTPRequest?
    /// True between the first byte of a request and its end.
    public fileprivate(set) var inMessage = false

    public init(limits: HTTPLimits) {
        self.limits = limits
        parser = .allocate(capacity: 1)
        llhttp_init(parser, HTTP_REQUEST, HTTPParser.settings)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        parser.pointee.data = nil
        parser.deallocate()
    }

    /// Takes the request completed by the last `.request` result.
    public func takeRequest() -> HTTPRequest {
        guard let request = complete else { preconditionFailure("takeRequest without a complete request") }
        complete = nil
        return request
    }

    /// True once per request whose head (now parsed) waits for `100 Continue` before
    /// sending its body; curl and other clients otherwise stall about a second.
    public func takeContinueExpected() -> Bool {
        defer { continueExpected = false }
        return continueExpected
    }

    /// Parses `bytes`. After `.request`, feed the rest of the input (from `consumed`)
    /// once the response is queued.
    public func feed(_ bytes: UnsafeRawBufferPointer) -> Result {
        precondition(!failed, "feed after a parse failure")
        if paused {
            llhttp_resume(parser)
            paused = false
        }
        guard bytes.count > 0 else { return .needMore }
        let rc = cllhttp_execute(parser, bytes.baseAddress, bytes.count)
        switch rc {
        case HPE_OK:
            return .needMore
        case HPE_PAUSED:
            paused = true
            return .request(consumed: cllhttp_error_offset(parser, bytes.baseAddress))
        default:
            failed = true
            if let error { return .failed(error) }
            let reason = llhttp_get_error_reason(parser).map { String(cString: $0) }
                ?? String(cString: llhttp_errno_name(rc))
            return .failed(.malformed(reason))
        }
    }

    // MARK: callbacks (fileprivate so the C trampolines can reach them)

    fileprivate func beginMessage() {
        url.removeAll(keepingCapacity: true)
        field.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
        headers.removeAll(keepingCapacity: true)
        body = []
        fieldComplete = false
        headBytes = 0
        hasBody = false
        continueExpected = false
        inMessage = true
    }

    fileprivate func countHead(_ n: Int) -> Bool {
        headBytes += n
        if headBytes > limits.maxHeadBytes {
            error = .headTooLarge
            return false
        }
        return true
    }

    /// Commits the current header once its name is complete (a header with an
    /// empty value may never see a value callback).
    fileprivate func commitHeader() -> Bool {
        guard fieldComplete else { return true }
        if headers.count >= limits.maxHeaderCount {
            error = .headTooLarge
            return false
        }
        headers.append((String(decoding: field, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        field.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
        fieldComplete = false
        return true
    }

    fileprivate func headersComplete() -> Bool {
        guard commitHeader() else { return false }
        let flags = parser.pointee.flags
        let chunked = flags & UInt16(F_CHUNKED.rawValue) != 0
        let hasLength = flags & UInt16(F_CONTENT_LENGTH.rawValue) != 0
        if hasLength && parser.pointee.content_length > UInt64(limits.maxBodyBytes) {
            error = .bodyTooLarge
            return false
        }
        hasBody = chunked || (hasLength && parser.pointee.content_length > 0)
        continueExpected = hasBody && headers.contains {
            asciiCaseInsensitiveEqual($0.name, "expect") && asciiCaseInsensitiveEqual($0.value, "100-continue")
        }
        return true
    }

    fileprivate func appendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if body.count + bytes.count > limits.maxBodyBytes {
            error = .bodyTooLarge
            return false
        }
        if body.isEmpty { body.reserveCapacity(min(Int(parser.pointee.content_length), limits.maxBodyBytes)) }
        body.append(contentsOf: bytes)
        return true
    }

    fileprivate func messageComplete() {
        let method = String(cString: llhttp_method_name(llhttp_method_t(UInt32(parser.pointee.method))))
        complete = HTTPRequest(method: method, target: String(decoding: url, as: UTF8.self),
                               headers: headers, body: body,
                               keepAlive: llhttp_should_keep_alive(parser) == 1, hasBody: hasBody)
        inMessage = false
    }

    // MARK: settings shared by every parser (must outlive them: allocated once, never freed)

    private static let settings: UnsafeMutablePointer<llhttp_settings_t> = {
        let s = UnsafeMutablePointer<llhttp_settings_t>.allocate(capacity: 1)
        llhttp_settings_init(s)
        s.pointee.on_message_begin = { p in
            owner(p).beginMessage()
            return 0
        }
        s.pointee.on_url = { p, at, len in
            let me = owner(p)
            guard me.countHead(len) else { return Int32(HPE_USER.rawValue) }
            me.url.append(contentsOf: UnsafeRawBufferPointer(start: at, count: len))
            return 0
        }
        s.pointee.on_header_field = { p, at, len in
            let me = owner(p)
            guard me.commitHeader(), me.countHead(len) else { return Int32(HPE_USER.rawValue) }
            me.field.append(contentsOf: UnsafeRawBufferPointer(start: at, count: len))
            return 0
        }
        s.pointee.on_header_value = { p, at, len in
            let me = owner(p)
            guard me.countHead(len) else { return Int32(HPE_USER.rawValue) }
            me.value.append(contentsOf: UnsafeRawBufferPointer(start: at, count: len))
            return 0
        }
        s.pointee.on_header_field_complete = { p in
            owner(p).fieldComplete = true
            return 0
        }
        s.pointee.on_header_value_complete = { p in
            owner(p).commitHeader() ? 0 : Int32(HPE_USER.rawValue)
        }
        s.pointee.on_headers_complete = { p in
            owner(p).headersComplete() ? 0 : Int32(HPE_USER.rawValue)
        }
        s.pointee.on_body = { p, at, len in
            owner(p).appendBody(UnsafeRawBufferPointer(start: at, count: len)) ? 0 : Int32(HPE_USER.rawValue)
        }
        s.pointee.on_message_complete = { p in
            owner(p).messageComplete()
            return Int32(HPE_PAUSED.rawValue)
        }
        return s
    }()
}

private func owner(_ p: UnsafeMutablePointer<llhttp_t>?) -> HTTPParser {
    Unmanaged<HTTPParser>.fromOpaque(p!.pointee.data!).takeUnretainedValue()
}
