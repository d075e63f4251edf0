import Glibc
import Reactor

/// `ssh -L` on the reactor: listens on loopback and pumps every accepted client
/// through its own direct-tcpip channel of one SSH session.
public final class LocalForward {
    public let localPort: Int
    public let remoteHost: String
    public let remotePort: Int
    public let counters = TunnelCounters()
    private unowned let loop: EventLoop
    private let lanes: ForwardLanes
    private var listeners: [Listener] = []
    private var clients: [ObjectIdentifier: TunnelClient] = [:]
    /// Channels opened ahead, waiting for clients (see `spareTarget`).
    private var spares: [TunnelClient] = []
    /// How many spares to keep: 0 keeps the forward transparent (a channel opens the
    /// target's connection, so a generic forward opens one only for a client).
    private let spareTarget: Int
    /// A spare ended unused (refused, or closed by the server): no more until a client
    /// comes, so a target that refuses cannot make the forward open channels in a loop.
    private var sparesPaused = false

    /// Listens on 127.0.0.1:`localPort` (0 picks one) and, where the machine has IPv6
    /// loopback, on [::1] with the same port, so "localhost" works either way.
    /// Who may use the local port: the daemon's own user unless configured otherwise.
    private let peerGuard: SameUserGuard

    init(loop: EventLoop, session: SSHSession, localPort: Int, remoteHost: String, remotePort: Int,
         lanePolicy: LanePolicy, spareChannels: Int, peerGuard: SameUserGuard) throws {
        self.loop = loop
        self.peerGuard = peerGuard
        spareTarget = spareChannels
        lanes = ForwardLanes(loop: loop, primary: session, policy: lanePolicy)
        self.remoteHost = remoteHost
        self.remotePort = remotePort
        var accept: ((Int32) -> Void)?
        let v4 = try Listener(loop: loop, host: "127.0.0.1", port: localPort) { accept?($0) }
        self.localPort = v4.port
        listeners.append(v4)
        if let v6 = try? Listener(loop: loop, host: "::1", port: v4.port, onAccept: { accept?($0) }) {
            listeners.append(v6)
        }
        accept = { [unowned self] fd in self.accepted(fd) }
        lanes.owns = { [unowned self] client in self.clients[ObjectIdentifier(client)] != nil }
        refillSpares()
    }

    public var isOpen: Bool { !listeners.isEmpty }

    private func accepted(_ fd: Int32) {
        // Another local user's process: closed at once (decisions.md, "Same-user guard").
        guard peerGuard.admits(fd) else {
            Socket.close(fd)
            return
        }
        defer {
            sparesPaused = false
            refillSpares()
        }
        // The spare furthest along (open, else opening, else first in the open queue).
        if let i = spares.indices.max(by: { (spares[$0].spareProgress ?? -1) < (spares[$1].spareProgress ?? -1) }),
           spares[i].spareProgress != nil {
            let spare = spares.remove(at: i)
            track(spare)
            spare.attach(fd: fd)
            return
        }
        guard let session = lanes.sessionForNewClient() else {
            Socket.close(fd)
            return
        }
        let client = TunnelClient(fd: fd, targetHost: remoteHost, targetPort: remotePort, loop: loop,
                                  session: session, counters: counters)
        track(client)
        session.add(client)
    }

    private func track(_ client: TunnelClient) {
        clients[ObjectIdentifier(client)] = client
        client.onClosed = { [weak self] c in self?.clients[ObjectIdentifier(c)] = nil }
    }

    /// Opens spares up to the target (none while paused or listening no more).
    private func refillSpares() {
        while spares.count < spareTarget, !sparesPaused, isOpen, let session = lanes.sessionForNewClient() {
            let spare = TunnelClient(spareFor: remoteHost, targetPort: remotePort, loop: loop, session: session, counters: counters)
            spare.onClosed = { [weak self] c in
                guard let self, let i = self.spares.firstIndex(where: { $0 === c }) else { return }
                self.spares.remove(at: i)
                self.sparesPaused = true
            }
            spares.append(spare)
            session.add(spare)
        }
    }

    /// Stops listening and closes every client.
    public func close() {
        for l in listeners { l.close() }
        listeners = []
        for client in Array(clients.values) { client.shutdown() }
        let unused = spares
        spares = []
        for spare in unused { spare.shutdown() }
        lanes.close()
    }

    /// SSH sessions carrying this forward now (1 unless a burst of clients added lanes).
    public var sessionCount: Int { lanes.sessionCount }
    /// SSH channels this forward holds: one per client, one per spare.
    public var channelCount: Int { clients.count + spares.count }
    /// Channels it keeps open ahead of clients (0: transparent).
    public var channelsAhead: Int { spareTarget }
}

extension SSHSession {
    /// Forwards a loopback port to `remoteHost:remotePort` as seen from the server.
    /// `spareChannels`: channels kept open ahead for clients to come (0: none; see LocalForward).
    public func forward(localPort: Int, remoteHost: String, remotePort: Int,
                        lanePolicy: LanePolicy = LanePolicy(), spareChannels: Int = 0,
                        peerGuard: SameUserGuard = SameUserGuard(allowOtherUsers: false)) throws -> LocalForward {
        guard isReady else { throw closedError ?? .disconnected("the SSH session is not connected") }
        do {
            return try LocalForward(loop: loop, session: self, localPort: localPort, remoteHost: remoteHost,
                                    remotePort: remotePort, lanePolicy: lanePolicy, spareChannels: spareChannels,
                                    peerGuard: peerGuard)
        } catch let error as SystemError {
            throw SSHError.invalidParameters("cannot listen on local port \(localPort): \(error)")
        }
    }

    func add(_ channel: SessionChannel) {
        channels.append(channel)
        schedulePump()
    }

    /// Channel opens waiting or in flight on this session, and whether one is in flight.
    private var openCounts: (opens: Int, inFlight: Bool) {
        var opens = 0, inFlight = false
        for channel in channels {
            if channel.isOpening { inFlight = true; opens += 1 } else if channel.needsOpenSlot { opens += 1 }
        }
        return (opens, inFlight)
    }

    /// Channel opens waiting or in flight on this session.
    var queuedOpens: Int { openCounts.opens }

    /// This session's open queue and pace, for the lane decisions.
    var openQueue: LanePolicy.Queue {
        let (opens, inFlight) = openCounts
        return LanePolicy.Queue(opens: opens, openTimeNs: openPace.meanNs,
                                inFlightAgeNs: openPace.inFlightAgeNs(now: loop.now, openInFlight: inFlight))
    }

    var hasChannels: Bool { !channels.isEmpty }

    /// Tunnel clients matching `filter` still waiting for the open slot.
    func waitingTunnelClients(where filter: (TunnelClient) -> Bool) -> Int {
        channels.reduce(0) { n, channel in
            guard channel.needsOpenSlot, let client = channel as? TunnelClient, filter(client) else { return n }
            return n + 1
        }
    }

    /// Removes up to `count` tunnel clients matching `filter` still waiting for the open
    /// slot, those waiting longest first (they go to a session with an empty queue).
    func takeQueuedTunnelClients(_ count: Int, where filter: (TunnelClient) -> Bool) -> [TunnelClient] {
        var taken: [TunnelClient] = []
        for channel in channels where taken.count < count {
            if channel.needsOpenSlot, let client = channel as? TunnelClient, filter(client) { taken.append(client) }
        }
        let ids = Set(taken.map(ObjectIdentifier.init))
        channels.removeAll { ids.contains(ObjectIdentifier($0)) }
        return taken
    }
}
