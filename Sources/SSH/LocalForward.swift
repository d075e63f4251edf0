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
    private weak var session: SSHSession?
    private var listeners: [Listener] = []
    private var clients: [ObjectIdentifier: TunnelClient] = [:]

    /// Listens on 127.0.0.1:`localPort` (0 picks one) and, where the machine has IPv6
    /// loopback, on [::1] with the same port, so "localhost" works either way.
    init(loop: EventLoop, session: SSHSession, localPort: Int, remoteHost: String, remotePort: Int) throws {
        self.loop = loop
        self.session = session
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
    }

    public var isOpen: Bool { !listeners.isEmpty }

    private func accepted(_ fd: Int32) {
        guard let session, session.isReady else {
            Socket.close(fd)
            return
        }
        let client = TunnelClient(fd: fd, targetHost: remoteHost, targetPort: remotePort, loop: loop,
                                  session: session, counters: counters)
        clients[ObjectIdentifier(client)] = client
        client.onClosed = { [weak self] c in self?.clients[ObjectIdentifier(c)] = nil }
        session.add(client)
    }

    /// Stops listening and closes every client.
    public func close() {
        for l in listeners { l.close() }
        listeners = []
        for client in Array(clients.values) { client.shutdown() }
    }
}

extension SSHSession {
    /// Forwards a loopback port to `remoteHost:remotePort` as seen from the server.
    public func forward(localPort: Int, remoteHost: String, remotePort: Int) throws -> LocalForward {
        guard isReady else { throw closedError ?? .disconnected("the SSH session is not connected") }
        do {
            return try LocalForward(loop: loop, session: self, localPort: localPort, remoteHost: remoteHost, remotePort: remotePort)
        } catch let error as SystemError {
            throw SSHError.invalidParameters("cannot listen on local port \(localPort): \(error)")
        }
    }

    func add(_ channel: SessionChannel) {
        channels.append(channel)
        schedulePump()
    }
}
