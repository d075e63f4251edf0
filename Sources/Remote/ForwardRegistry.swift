import Reactor
import SSH

/// A generic forward (`ssh -L`) a user opened on one connection.
public final class Forward {
    public let id: String
    public let connectionID: String
    public private(set) var tunnel: LocalForward
    public var localPort: Int { tunnel.localPort }
    public var remoteHost: String { tunnel.remoteHost }
    public var remotePort: Int { tunnel.remotePort }
    public var counters: TunnelCounters { tunnel.counters }
    /// SSH sessions carrying the forward now: 1, more while a burst of clients is served.
    public var sshSessions: Int { tunnel.sessionCount }
    /// The URL a browser would use; the listener is on loopback (v4 and, where present, v6).
    public var url: String { "http://localhost:\(localPort)" }

    init(id: String, connectionID: String, tunnel: LocalForward) {
        self.id = id
        self.connectionID = connectionID
        self.tunnel = tunnel
    }

    /// Channels kept open ahead of clients (`channels_ahead`; 0: a connection to the
    /// target only for a client, as `ssh -L`).
    public var channelsAhead: Int { tunnel.channelsAhead }

    /// Listens again on the same local port through `session` (after a reconnect).
    func reopen(on session: SSHSession, lanePolicy: LanePolicy, peerGuard: SameUserGuard) throws {
        tunnel = try session.forward(localPort: tunnel.localPort, remoteHost: tunnel.remoteHost, remotePort: tunnel.remotePort,
                                     lanePolicy: lanePolicy, spareChannels: tunnel.channelsAhead, peerGuard: peerGuard)
    }
}

extension ConnectionRegistry {
    /// Opens a loopback listener forwarding to `remoteHost:remotePort` through the connection,
    /// keeping `channelsAhead` channels to the target open ahead of clients.
    public func openForward(_ connection: Connection, remoteHost: String, remotePort: Int, localPort: Int?,
                            channelsAhead: Int = 0) throws -> Forward {
        guard connection.status == .connected else {
            if case .disconnected(let reason) = connection.status { throw SSHError.disconnected(reason) }
            throw SSHError.disconnected("not connected")
        }
        let tunnel = try connection.session.forward(localPort: localPort ?? 0, remoteHost: remoteHost, remotePort: remotePort,
                                                    lanePolicy: lanePolicy, spareChannels: channelsAhead, peerGuard: sameUserGuard)
        let forward = Forward(id: newID(prefix: "fwd_"), connectionID: connection.id, tunnel: tunnel)
        connection.forwards.append(forward)
        return forward
    }

    public var allForwards: [Forward] { all.flatMap(\.forwards) }

    public func forward(_ id: String) -> Forward? { allForwards.first { $0.id == id } }

    /// Closes a forward and every client through it; false when the id is unknown.
    @discardableResult
    public func closeForward(_ id: String) -> Bool {
        for connection in all {
            if let i = connection.forwards.firstIndex(where: { $0.id == id }) {
                connection.forwards.remove(at: i).tunnel.close()
                return true
            }
        }
        return false
    }
}
