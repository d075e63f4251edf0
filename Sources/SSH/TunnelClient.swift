import CLibSSH2
import Reactor

/// Byte counters of one forward, shared by its clients.
public final class TunnelCounters {
    public internal(set) var bytesUp: UInt64 = 0
    public internal(set) var bytesDown: UInt64 = 0
    public internal(set) var activeClients = 0
    public internal(set) var totalClients = 0
    public init() {}
}

/// The driver of one local client of a forward: its socket, its two buffers and its
/// direct-tcpip channel. Runs inside the session pump; performs what
/// `TunnelStateMachine` decides.
final class TunnelClient: SessionChannel, IOHandler {
    /// Per-direction buffer: 64 KiB keeps hundreds of clients small (notes §7.4 suggests
    /// 64 KiB when there are many tunnels, 256 KiB for one fast one).
    static let bufferSize = 64 * 1024
    /// Bytes moved per direction per pump pass before yielding (fairness, notes pitfall 24).
    static let passBudget = 256 * 1024
    /// libssh2 sends at most one packet of this much per channel_write (src/channel.c:2255).
    static let maxWrite = 32_700

    /// The libssh2 call that owns the session's half-sent packet, to be retried first
    /// with the same arguments.
    private enum PendingOp { case none, open, write(Int), sendEOF, read, close }

    /// The local client's socket; -1 while this is a spare (see `init(spareFor:)`).
    private(set) var fd: Int32
    private let targetHost: String
    private let targetPort: Int32
    private unowned let loop: EventLoop
    private weak var session: SSHSession?
    private let counters: TunnelCounters
    private var machine = TunnelStateMachine()
    private var token: Token?
    private var channel: OpaquePointer?
    private let up = LinearBuffer(capacity: TunnelClient.bufferSize)
    private let down = LinearBuffer(capacity: TunnelClient.bufferSize)
    private var pending = PendingOp.none
    private var clientEOF = false
    private var eofSent = false
    private var channelEOF = false
    private var clientShut = false
    /// epoll said readable since the last read that found nothing: only then is the
    /// client socket read (a read per client per pass was mostly EAGAIN syscalls).
    private var clientReadable = true
    /// epoll reported the client's FIN or hang-up: no more `.peerClose` interest (level-
    /// triggered, it would fire on every wait), the pump reads the EOF when its turn comes.
    private var peerCloseSeen = false
    let timer: Reactor.Timer? = nil
    var onClosed: ((TunnelClient) -> Void)?
    /// Why the server refused to open the channel (libssh2's message), if it did.
    private(set) var openFailure: String?

    init(fd: Int32, targetHost: String, targetPort: Int, loop: EventLoop, session: SSHSession, counters: TunnelCounters) {
        self.fd = fd
        self.targetHost = targetHost
        self.targetPort = Int32(targetPort)
        self.loop = loop
        self.session = session
        self.counters = counters
        counters.activeClients += 1
        counters.totalClients += 1
        // Until its channel is open, hear about the client leaving (a reset ends it).
        token = loop.register(fd: fd, interest: .peerClose, handler: self)
    }

    /// A spare: opens its channel ahead of any client and holds it, unread, until a
    /// client arrives (`attach`), which then skips the open's round trip.
    init(spareFor targetHost: String, targetPort: Int, loop: EventLoop, session: SSHSession, counters: TunnelCounters) {
        fd = -1
        self.targetHost = targetHost
        self.targetPort = Int32(targetPort)
        self.loop = loop
        self.session = session
        self.counters = counters
    }

    /// No client yet (a spare).
    var isSpare: Bool { fd < 0 }

    /// How far a spare has got: 2 open, 1 opening, 0 waiting for the open slot; nil
    /// once it is closing (no client can take it).
    var spareProgress: Int? {
        switch machine.state {
        case .open: return 2
        case .opening: return 1
        case .queued: return 0
        case .openAbandoned, .closing, .closed: return nil
        }
    }

    /// A client takes this spare: from now on it is an ordinary tunnel client.
    func attach(fd: Int32) {
        precondition(isSpare, "a spare takes one client")
        self.fd = fd
        counters.activeClients += 1
        counters.totalClients += 1
        token = loop.register(fd: fd, interest: [], handler: self)
        session?.schedulePump()
    }

    var needsOpenSlot: Bool { machine.state == .queued }
    var isOpening: Bool { machine.state == .opening || machine.state == .openAbandoned }
    var wantsWarmChannel: Bool { false }
    var isFinished: Bool { machine.state == .closed }
    func grantOpenSlot() { _ = machine.onOpenSlot() }

    /// Client socket events only wake the session's pump; all I/O happens there. A
    /// half-close (RDHUP) is not an error: the read in the pump sees the EOF once the
    /// buffered bytes ahead of it have gone upstream.
    func handleIO(_ events: IOEvents) {
        if events.readable || events.hangup { clientReadable = true }
        if events.error { perform(machine.onClientError()) }
        if events.hangup {
            // Seen once is enough (level-triggered, it would fire again); a reset may
            // have ended the client: its socket leaves epoll now, not after the close.
            peerCloseSeen = true
            updateInterest()
        }
        session?.schedulePump()
    }

    /// Moves a client still waiting for its channel to another session of the forward.
    func move(to lane: SSHSession) {
        precondition(machine.state == .queued, "only a client without a channel may move")
        session = lane
        lane.add(self)
    }

    /// Closes this client because its forward is going away.
    func shutdown() {
        perform(machine.onClientError())
        session?.schedulePump()
    }

    func abort(_ error: SSHError) {
        channel = nil
        perform(machine.onSessionLost())
    }

    func step(session s: OpaquePointer, buffer: UnsafeMutableRawBufferPointer) -> ChannelStep {
        switch machine.state {
        case .queued:
            return .blocked(ownsSendSlot: false)
        case .opening, .openAbandoned:
            let ch = targetHost.withCString { libssh2_channel_direct_tcpip_ex(s, $0, targetPort, "127.0.0.1", 0) }
            guard let ch else {
                if cssh2_last_errno(s) == LIBSSH2_ERROR_EAGAIN { return blocked(s, .open) }
                pending = .none
                openFailure = SSHSession.lastError(s)
                perform(machine.onChannelFailed())
                return .done
            }
            pending = .none
            channel = ch
            perform(machine.onOpened())
            return machine.state == .closed ? .done : step(session: s, buffer: buffer)
        case .open:
            return pumpBytes(s)
        case .closing:
            guard let ch = channel else {
                perform(machine.onChannelClosed())
                return .done
            }
            let rc = libssh2_channel_close(ch)
            if rc == LIBSSH2_ERROR_EAGAIN { return blocked(s, .close) }
            pending = .none
            libssh2_channel_free(ch)
            channel = nil
            perform(machine.onChannelClosed())
            return .done
        case .closed:
            return .done
        }
    }

    /// One pass both ways, each direction within its budget.
    private func pumpBytes(_ s: OpaquePointer) -> ChannelStep {
        guard let ch = channel else { return .done }
        if isSpare {
            // Nothing is taken for a spare (what the server sends waits for its client),
            // but libssh2 must take in what arrived: a zero-byte read processes the
            // socket's packets, or they would stay there, readable for epoll, for ever.
            let n = libssh2_channel_read_ex(ch, 0, down.writable.baseAddress!.assumingMemoryBound(to: CChar.self), 0)
            if n == Int(LIBSSH2_ERROR_EAGAIN), outboundBlocked(s) { return blocked(s, .read) }
            if n < 0 && n != Int(LIBSSH2_ERROR_EAGAIN) { return channelFailed() }
            // One the server ended before any client came is closed.
            guard libssh2_channel_eof(ch) == 1 else { return .blocked(ownsSendSlot: false) }
            perform(machine.onClientError())
            return .budgetExhausted   // the close proceeds in the next pass
        }
        // A half-sent packet of ours goes first, with the same arguments.
        switch pending {
        case .write(let len):
            let n = libssh2_channel_write_ex(ch, 0, up.readable.baseAddress!.assumingMemoryBound(to: CChar.self), len)
            pending = .none
            if n == Int(LIBSSH2_ERROR_EAGAIN) {
                if outboundBlocked(s) { return blocked(s, .write(len)) }
            } else if n < 0 {
                return channelFailed()
            } else {
                up.consume(n)
                counters.bytesUp &+= UInt64(n)
            }
        case .sendEOF:
            let rc = libssh2_channel_send_eof(ch)
            if rc == LIBSSH2_ERROR_EAGAIN { return blocked(s, .sendEOF) }
            pending = .none
            eofSent = true
            perform(machine.onUpstreamDone())
        case .none, .open, .read, .close:
            pending = .none
        }
        var budgetHit = false

        // Upstream: client -> buffer -> channel, reads and writes interleaved.
        if case .open(true, _) = machine.state {
            var moved = 0
            upstream: while moved < Self.passBudget {
                if !clientEOF && clientReadable {
                    // Compaction is safe here: no libssh2 call holds a pointer into `up`
                    // (a half-sent write was retried above). It must also run when the
                    // tail is exactly full, or read interest stays on with nothing read.
                    if up.room < Self.maxWrite { up.compact() }
                    if up.room > 0 {
                        let room = up.room
                        switch Socket.read(fd, into: up.writable) {
                        case .bytes(let n):
                            up.commit(n)
                            // A short read emptied the socket; epoll (level-triggered) says
                            // when more, or the EOF, arrives.
                            if n < room { clientReadable = false }
                        case .wouldBlock: clientReadable = false
                        case .eof: clientEOF = true
                        case .error: return clientFailed()
                        }
                    }
                }
                if up.isEmpty { break }
                let len = min(up.count, Self.maxWrite)
                let n = libssh2_channel_write_ex(ch, 0, up.readable.baseAddress!.assumingMemoryBound(to: CChar.self), len)
                if n == Int(LIBSSH2_ERROR_EAGAIN) {
                    // Half-sent packet: we own the session's send slot and retry first.
                    if outboundBlocked(s) { return blocked(s, .write(len)) }
                    // Window full (libssh2 1.10 says EAGAIN, 1.11 returns 0): stop here but
                    // still serve downstream below. Reading the channel is what lets the far
                    // side drain and send the window adjust; returning here deadlocked a
                    // full-duplex stream once both windows filled.
                    break upstream
                }
                if n < 0 { return channelFailed() }
                if n == 0 { break upstream }   // window full: a readable SSH socket brings the adjust
                up.consume(n)
                moved += n
                counters.bytesUp &+= UInt64(n)
            }
            if moved >= Self.passBudget { budgetHit = true }
            if clientEOF && up.isEmpty && !eofSent {
                let rc = libssh2_channel_send_eof(ch)
                if rc == LIBSSH2_ERROR_EAGAIN { return blocked(s, .sendEOF) }
                eofSent = true
                perform(machine.onUpstreamDone())
            }
        }

        // Downstream: channel -> buffer -> client. Not reading while the buffer is full is
        // the flow control: the channel window stops refilling and the server stops.
        if case .open(_, true) = machine.state {
            var moved = 0
            // Write out what waits first: a pass woken by the client's EPOLLOUT must then
            // read the channel, whose read is what sends the window adjust. Flushing only
            // after the reads left the buffer empty and the channel unread, and with the
            // window used up nothing woke the tunnel again (found through a jump host,
            // whose socketpair fills like a slow client).
            if !flushDown() { return clientFailed() }
            if down.room < Self.maxWrite { down.compact() }   // safe: libssh2 keeps no pointer into `down`
            while down.room > 0, moved < Self.passBudget, !channelEOF {
                let n = libssh2_channel_read_ex(ch, 0, down.writable.baseAddress!.assumingMemoryBound(to: CChar.self), down.room)
                if n == Int(LIBSSH2_ERROR_EAGAIN) {
                    // A window adjust half-sent inside the read makes this read the send owner.
                    if outboundBlocked(s) { return blocked(s, .read) }
                    break
                }
                if n < 0 { return channelFailed() }
                if n == 0 {
                    if libssh2_channel_eof(ch) == 1 { channelEOF = true }
                    break
                }
                down.commit(n)
                moved += n
                counters.bytesDown &+= UInt64(n)
                if !flushDown() { return clientFailed() }
            }
            if moved >= Self.passBudget { budgetHit = true }
            if !flushDown() { return clientFailed() }
            if channelEOF && down.isEmpty && !clientShut {
                clientShut = true
                Socket.shutdownWrite(fd)
                perform(machine.onDownstreamDone())
            }
        }
        if case .closing = machine.state { return .budgetExhausted }   // close in the next pass
        updateInterest()
        return budgetHit ? .budgetExhausted : .blocked(ownsSendSlot: false)
    }

    /// Writes buffered downstream bytes to the client; false on a socket error.
    private func flushDown() -> Bool {
        while !down.isEmpty {
            switch Socket.write(fd, down.readable) {
            case .bytes(let n): down.consume(n)
            case .wouldBlock: return true
            case .eof, .error: return false
            }
        }
        return true
    }

    /// What the client socket must wake us for. While bytes flow and neither direction
    /// needs the socket, or before the channel is open, only the client leaving (once:
    /// a FIN is then read in turn, a reset ends the client). Nothing once the channel is
    /// closing: the loop then leaves the fd out of epoll, whose hang-up reports would
    /// otherwise wake it on every wait until the server's CLOSE comes.
    private func updateInterest() {
        guard let token else { return }
        var interest: Interest = []
        switch machine.state {
        case .open(let upstream, _):
            if upstream, !clientEOF, up.count < up.capacity - Self.maxWrite { interest.insert(.read) }
            if !down.isEmpty { interest.insert(.write) }
            if interest.isEmpty && !peerCloseSeen { interest.insert(.peerClose) }
        case .queued, .opening:
            if !peerCloseSeen { interest.insert(.peerClose) }
        case .openAbandoned, .closing, .closed:
            break
        }
        loop.setInterest(token, interest)
    }

    private func outboundBlocked(_ s: OpaquePointer) -> Bool { libssh2SendBlocked(s) }

    private func blocked(_ s: OpaquePointer, _ op: PendingOp) -> ChannelStep {
        let outbound = outboundBlocked(s)
        pending = outbound ? op : .none
        updateInterest()
        return .blocked(ownsSendSlot: outbound)
    }

    private func clientFailed() -> ChannelStep {
        perform(machine.onClientError())
        return .budgetExhausted   // run again: the close proceeds in the next pass
    }

    private func channelFailed() -> ChannelStep {
        pending = .none
        if let ch = channel { libssh2_channel_free(ch) }
        channel = nil
        perform(machine.onChannelFailed())
        return .done
    }

    private func perform(_ action: TunnelStateMachine.Action) {
        switch action {
        case .none, .open, .pump, .closeChannel:
            break   // the step loop does these
        case .closeClient:
            if let token { loop.unregister(token) }
            token = nil
            if !isSpare {
                Socket.close(fd)
                counters.activeClients -= 1
            }
            onClosed?(self)
        }
    }
}
