import Glibc
import SSH

/// Viewers outlive a daemon that dies without stopping them (killed, crashed, the laptop
/// powered off): the ledger (ViewerLedger) names them, and each connection to a
/// recorded viewer's server and user asks the server about it, once, right after the
/// connection is made. One still running becomes the connection's viewer again, with a
/// new tunnel (its former local port when free) and the same process, directory and
/// start time; one that ended meanwhile is forgotten. A connection that already has a
/// viewer leaves the record for a later one; nothing is killed here.
extension ConnectionRegistry {
    func recoverViewers(_ connection: Connection) {
        guard let ledger, connection.status == .connected, connection.viewer?.machine.isActive != true else { return }
        let held = Set(all.compactMap { $0.viewer?.id }).union(recovering)
        guard let record = ledger.ledger.unclaimed(host: connection.host, port: connection.port,
                                                   username: connection.username, held: held).first else { return }
        recovering.insert(record.id)
        let script = ViewerScripts.identify(pid: record.pid, port: record.remotePort, directory: record.directory)
        connection.session.exec(script, timeoutMs: Self.viewerCommandTimeoutMs) { [weak self, weak connection] outcome in
            guard let self else { return }
            self.recovering.remove(record.id)
            guard let connection, self.connection(connection.id) === connection else { return }
            // No answer says nothing about the viewer: the record stays for the next connection.
            guard case .success(let r) = outcome else { return }
            guard r.stdoutText.hasPrefix("ALIVE") else {
                ledger.remove(id: record.id)
                self.onViewerRecovery?("viewer \(record.id) (pid \(record.pid) on \(record.username)@\(record.host)) "
                                       + "\(ledger.origin(of: record.id)) has ended; forgotten")
                return self.recoverViewers(connection)   // the next record, if any
            }
            guard connection.status == .connected, connection.viewer?.machine.isActive != true else { return }
            self.adopt(record, into: connection)
        }
    }

    private func adopt(_ record: ViewerRecord, into connection: Connection) {
        let viewer = Viewer(id: record.id, envName: record.envName)
        viewer.pid = record.pid
        viewer.remotePort = record.remotePort
        viewer.directory = record.directory
        viewer.startedAt = record.startedAt
        viewer.startedEpoch = record.startedEpoch
        let elapsed = UInt64(max(0, Int(time(nil)) - record.startedEpoch)) * 1_000_000_000
        viewer.startedMonotonic = loop.now > elapsed ? loop.now - elapsed : 1
        viewer.preferredLocalPort = Self.unavailable(localPort: record.localPort) == nil ? record.localPort : 0
        connection.viewer = viewer
        onViewerRecovery?("viewer \(record.id) (pid \(record.pid)) \(ledger?.origin(of: record.id) ?? "recorded") is running: taken back on \(connection.id)")
        act(connection, viewer, viewer.machine.onAdopted())
    }
}
