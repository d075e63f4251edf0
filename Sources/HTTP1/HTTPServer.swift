import Reactor

/// Accepts HTTP/1.1 connections on the loop and drives one `HTTPConnection` each.
public final class HTTPServer {
    /// One loop-owned read buffer shared by all connections: parsing copies what it
    /// keeps, so the buffer is free again after every read (notes §2.2).
    static let readBufferSize = 64 * 1024

    public let loop: EventLoop
    public let limits: HTTPLimits
    let responder: HTTPResponder
    let readBuffer: UnsafeMutableRawBufferPointer
    private var listener: Listener?
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]
    private var shuttingDown = false
    private var shutdownDone: (() -> Void)?
    private var graceTimer: Timer?
    public let port: Int
    public internal(set) var requestsServed = 0
    public var connectionCount: Int { connections.count }

    public init(loop: EventLoop, host: String, port: Int, limits: HTTPLimits,
                responder: HTTPResponder) throws {
        self.loop = loop
        self.limits = limits
        self.responder = responder
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        var accept: ((Int32) -> Void)?
        let listener = try Listener(loop: loop, host: host, port: port) { accept?($0) }
        self.listener = listener
        self.port = listener.port
        accept = { [unowned self] fd in self.accepted(fd) }
    }

    deinit { readBuffer.deallocate() }

    /// Decides per accepted socket whether its requests are served; a response here is
    /// what the connection's request gets instead, before it is closed.
    public var refusal: ((Int32) -> HTTPResponse?)?

    private func accepted(_ fd: Int32) {
        guard !shuttingDown, connections.count < limits.maxConnections else {
            Socket.close(fd)
            return
        }
        let connection = HTTPConnection(fd: fd, server: self, refusal: refusal?(fd))
        connections[ObjectIdentifier(connection)] = connection
        connection.start()
    }

    func connectionClosed(_ connection: HTTPConnection) {
        connections[ObjectIdentifier(connection)] = nil
        if shuttingDown, connections.isEmpty { finishShutdown() }
    }

    /// Stops accepting, closes idle connections, lets responses in flight finish
    /// within `shutdownGraceMs`, then closes whatever is left and calls `done`.
    public func shutdown(_ done: @escaping () -> Void) {
        guard !shuttingDown else { return }
        shuttingDown = true
        shutdownDone = done
        listener?.close()
        listener = nil
        for connection in Array(connections.values) { connection.beginShutdown() }
        if connections.isEmpty {
            finishShutdown()
            return
        }
        let timer = loop.makeTimer { [unowned self] in
            for connection in Array(self.connections.values) { connection.forceClose() }
        }
        graceTimer = timer
        loop.arm(timer, after: .milliseconds(limits.shutdownGraceMs))
    }

    private func finishShutdown() {
        if let graceTimer { loop.disarm(graceTimer) }
        graceTimer = nil
        let done = shutdownDone
        shutdownDone = nil
        done?()
    }
}
