/// The body of a response that goes on after its head (Server-Sent Events): the
/// responder keeps it and sends pieces whenever it has them, on the loop thread.
/// The connection behind it has no timer and reads no further request; it ends when
/// the server calls `end()`, the peer leaves, the server shuts down, or the peer reads
/// too slowly (`HTTPLimits.streamOutputLimit`).
public final class HTTPStream {
    /// Set by the connection once the head is queued; nil before and after.
    weak var connection: HTTPConnection?
    private var ended = false
    /// Told once when the stream is over, whoever ended it.
    public var onClose: (() -> Void)?

    public init() {}

    /// False once the stream is over; sends are then dropped.
    public var isOpen: Bool { !ended }

    /// Queues `bytes` for the peer. A peer that lets more than the limit pile up unread is
    /// cut off (an event stream's client reconnects and starts from the current state).
    public func send(_ bytes: [UInt8]) {
        guard !ended, let connection else { return }
        connection.streamSend(bytes)
    }

    /// Ends the stream: what is queued is written, then the connection closes.
    public func end() {
        guard !ended else { return }
        connection?.streamEnd()
        closed()
    }

    /// The connection is gone (or the stream ended): tell the owner once.
    func closed() {
        guard !ended else { return }
        ended = true
        connection = nil
        let handler = onClose
        onClose = nil
        handler?()
    }
}
