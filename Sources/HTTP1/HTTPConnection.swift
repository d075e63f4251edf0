import Reactor

/// Answers requests. The HTTP layer knows nothing about what is served.
public protocol HTTPResponder: AnyObject {
    /// Answers `request` by calling `reply` exactly once, now or later, on the loop thread.
    func respond(to request: HTTPRequest, reply: @escaping (HTTPResponse) -> Void)
    /// The response for a request the HTTP layer itself refused (400, 413, 431).
    func errorResponse(for error: HTTPParseError) -> HTTPResponse
}

/// The driver of one HTTP connection: owns the fd, the parser, the output queue and
/// the timer, performs what `HTTPConnectionStateMachine` decides, holds no policy.
final class HTTPConnection: IOHandler {
    /// Reads per readable event before yielding to other fds (libuv's stream read loop
    /// stops after 32; a few 64 KiB reads already cover any JSON request).
    static let readsPerEvent = 4
    /// Interest while reading requests. It includes the peer-close event that handling a
    /// request needs, so going from reading to handling and back changes nothing in epoll.
    static let reading: Interest = [.read, .peerClose]

    let fd: Int32
    private var token: Token?
    private unowned let server: HTTPServer
    private let parser: HTTPParser
    private var machine = HTTPConnectionStateMachine()
    private var output = ByteQueue()
    /// Input parsed only up to a request boundary, kept until that request is answered.
    private var input: [UInt8] = []
    private var inputOffset = 0
    private var processing = false
    private var pausedForOutput = false
    private var keepAliveRequested = true
    /// The request being answered is a HEAD: its response carries no body.
    private var headRequested = false
    /// The socket turned readable while a request was being answered: reads stay off until
    /// the answer is queued. Until then they are left on, so an answer that comes later
    /// (an SSH round trip) costs no epoll_ctl pair per request.
    private var readableWhileBusy = false
    private lazy var timer = server.loop.makeTimer { [unowned self] in
        self.perform(self.machine.onTimeout())
    }

    /// Set when the server refused this connection at accept: its request gets this
    /// answer, and the connection closes.
    private let refusal: HTTPResponse?
    /// The stream this connection's response is, while it runs.
    private var stream: HTTPStream?

    init(fd: Int32, server: HTTPServer, refusal: HTTPResponse? = nil) {
        self.fd = fd
        self.server = server
        self.refusal = refusal
        parser = HTTPParser(limits: server.limits)
    }

    var state: HTTPConnectionStateMachine.State { machine.state }

    func start() {
        token = server.loop.register(fd: fd, interest: Self.reading, handler: self)
        // The first request, like every later one, must arrive within the request timeout.
        server.loop.arm(timer, after: .milliseconds(server.limits.requestTimeoutMs))
    }

    func beginShutdown() { perform(machine.onShutdown()) }

    func forceClose() {
        machine.onClosed()
        perform(.close)
    }

    // MARK: events

    func handleIO(_ events: IOEvents) {
        if events.readable {
            onReadable()
        } else if events.hangup, machine.state != .closed {
            // Reads are paused (a request is being answered): the peer went away or half-closed.
            perform(machine.onPeerEOF())
            updateInterest()
        }
        if events.writable, machine.state != .closed { flush() }
    }

    private func onReadable() {
        if !wantsInput { readableWhileBusy = true }
        reads: for _ in 0..<Self.readsPerEvent {
            guard wantsInput else { break }
            let buffer = server.readBuffer
            switch Socket.read(fd, into: buffer) {
            case .bytes(let n):
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                if machine.state == .lingering { continue }   // discard
                if input.isEmpty {
                    let used = parse(bytes)
                    if used < n { input.append(contentsOf: bytes[used...]) }
                } else {
                    input.append(contentsOf: bytes)
                    parseBuffered()
                }
                // A short read drained the socket: skip the read that would say EAGAIN.
                if n < buffer.count { break reads }
            case .wouldBlock:
                break reads
            case .eof:
                perform(machine.onPeerEOF())
            case .error:
                perform(machine.onSocketError())
            }
        }
        flush()
    }

    private var wantsInput: Bool {
        switch machine.state {
        case .idle, .reading: return !pausedForOutput && inputOffset == input.count
        case .lingering: return true
        case .handling, .closing, .streaming, .closed: return false
        }
    }

    /// Feeds `bytes` to the parser until they run out or a request must wait;
    /// returns how many were used.
    private func parse(_ bytes: UnsafeRawBufferPointer) -> Int {
        processing = true
        defer { processing = false }
        var offset = 0
        while offset < bytes.count, !pausedForOutput {
            switch machine.state {
            case .idle: perform(machine.onRequestStarted())
            case .reading: break
            case .handling, .closing, .lingering, .streaming, .closed: return offset
            }
            switch parser.feed(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .needMore:
                // The body has not come with the head: it may be waiting for our go.
                if parser.takeContinueExpected() { perform(machine.onContinueExpected()) }
                return bytes.count
            case .request(let consumed):
                offset += consumed
                perform(machine.onRequestComplete())
            case .failed(let error):
                perform(machine.onParseError(error))
                return bytes.count
            }
        }
        return offset
    }

    private func parseBuffered() {
        let used = input.withUnsafeBytes { parse(UnsafeRawBufferPointer(rebasing: $0[inputOffset...])) }
        inputOffset += used
        if inputOffset == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 64 * 1024)
            inputOffset = 0
        }
    }

    private func dispatch() {
        let request = parser.takeRequest()
        keepAliveRequested = request.keepAlive
        headRequested = request.method == "HEAD"
        server.requestsServed += 1
        if let refusal {
            keepAliveRequested = false
            return complete(refusal)
        }
        server.responder.respond(to: request) { [weak self] response in
            self?.complete(response)
        }
    }

    private func complete(_ response: HTTPResponse) {
        readableWhileBusy = false
        if let stream = response.stream { return completeStream(response, stream) }
        let action = machine.onResponse(keepAlive: keepAliveRequested)
        guard action != .none else { return }
        output.appending { response.serialize(keepAlive: action == .writeAndContinue, head: headRequested, into: &$0) }
        if output.count >= server.limits.outputHighWatermark { pausedForOutput = true }
        perform(action)
    }

    private func completeStream(_ response: HTTPResponse, _ stream: HTTPStream) {
        let action = machine.onStreamResponse()
        guard action != .none else { return stream.closed() }
        output.appending { response.serialize(keepAlive: false, head: headRequested, into: &$0) }
        if action == .writeAndStream, !headRequested {
            self.stream = stream
            stream.connection = self
        } else {
            stream.closed()
        }
        perform(headRequested && action == .writeAndStream ? machine.onStreamEnded() : action)
    }

    /// A piece of the stream's body.
    func streamSend(_ bytes: [UInt8]) {
        guard machine.state == .streaming else { return }
        output.appending { $0.append(contentsOf: bytes) }
        if output.count > server.limits.streamOutputLimit {   // a reader this slow is cut off
            perform(machine.onSocketError())
            return
        }
        flush()
    }

    /// The server ended the stream.
    func streamEnd() {
        stream = nil
        perform(machine.onStreamEnded())
    }

    // MARK: actions

    private func perform(_ action: HTTPConnectionStateMachine.Action) {
        switch action {
        case .none:
            break
        case .arm(let kind):
            let ms: Int
            switch kind {
            case .idle: ms = server.limits.idleTimeoutMs
            case .request: ms = server.limits.requestTimeoutMs
            case .linger: ms = server.limits.lingerTimeoutMs
            }
            server.loop.arm(timer, after: .milliseconds(ms))
        case .dispatch:
            // Interest is settled after the handler returns: a synchronous answer
            // leaves it unchanged (no epoll_ctl per request), an async one turns reads off.
            server.loop.disarm(timer)
            dispatch()
        case .writeContinue:
            output.appending { $0.append(contentsOf: HTTPResponse.continueLine) }
            if !processing { flush() }
        case .writeAndContinue:
            if !processing {
                flush()
                resumeInput()
            }
        case .writeAndStream:
            if !processing { flush() }
        case .writeAndClose:
            // The timer now bounds how long the peer may take to read the response.
            server.loop.arm(timer, after: .milliseconds(server.limits.requestTimeoutMs))
            if !processing { flush() }
        case .failAndClose(let error):
            output.appending { server.responder.errorResponse(for: error).serialize(keepAlive: false, into: &$0) }
            server.loop.arm(timer, after: .milliseconds(server.limits.requestTimeoutMs))
            if !processing { flush() }
        case .linger:
            Socket.shutdownWrite(fd)
            server.loop.arm(timer, after: .milliseconds(server.limits.lingerTimeoutMs))
            updateInterest()
        case .close:
            close()
        }
    }

    /// Parses input that waited for a response, once the response is queued.
    private func resumeInput() {
        guard inputOffset < input.count, !pausedForOutput else {
            updateInterest()
            return
        }
        parseBuffered()
        flush()
    }

    private func flush() {
        guard machine.state != .closed else { return }
        if !output.isEmpty {
            switch output.flush(to: fd) {
            case .bytes, .wouldBlock: break
            case .eof, .error:
                perform(machine.onSocketError())
                return
            }
        }
        if pausedForOutput && output.count <= server.limits.outputLowWatermark {
            pausedForOutput = false
            if !processing { resumeInput() }
        }
        if output.isEmpty { perform(machine.onOutputDrained()) }
        updateInterest()
    }

    private func updateInterest() {
        guard let token, machine.state != .closed else { return }
        var interest: Interest = []
        if wantsInput {
            interest.formUnion(Self.reading)
        } else if machine.state == .handling(closeAfter: false), !readableWhileBusy, !pausedForOutput,
                  inputOffset == input.count, server.loop.interest(token)?.contains(.read) == true {
            interest.formUnion(Self.reading)   // left on while the answer is pending (see readableWhileBusy)
        }
        // While a request is handled or a stream runs, hear about the client leaving.
        if machine.state == .handling(closeAfter: false) || machine.state == .streaming { interest.insert(.peerClose) }
        if !output.isEmpty { interest.insert(.write) }
        server.loop.setInterest(token, interest)
    }

    private func close() {
        guard let token else { return }
        machine.onClosed()
        server.loop.unregister(token)
        self.token = nil
        server.loop.disarm(timer)
        Socket.close(fd)
        if let stream {
            self.stream = nil
            stream.closed()
        }
        server.connectionClosed(self)
    }
}
