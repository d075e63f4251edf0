import Reactor
import SSH

/// A connection whose SSH session dies (server restarted, network dropped, laptop
/// asleep) logs in again on its own when it can do so without asking anyone (key or
/// agent; see ReconnectStateMachine), and comes back as it was: the same id, its
/// forwards listening on the same local ports, its viewer (still running on the server)
/// reachable at the same URL. Meanwhile it is listed as `disconnected` with
/// `reconnecting: true`, and ping/health answer with the failure, as the spec says.
extension ConnectionRegistry {
    /// Follows the connection's current session.
    func watch(_ connection: Connection) {
        connection.session.onLost = { [weak self, weak connection] error in
            guard let self, let connection else { return }
            self.sessionLost(connection, error)
        }
    }

    private func sessionLost(_ connection: Connection, _ error: SSHError) {
        connection.status = .disconnected(reason: "\(error)")
        // Nothing can pass any more: stop listening rather than accept and drop.
        for forward in connection.forwards { forward.tunnel.close() }
        // A viewer is unreachable now (one whose launch is in flight fails with its command).
        if let viewer = connection.viewer { viewerConnectionLost(connection, viewer, "\(error)") }
        onLost?(connection, error)
        reconnectAct(connection, connection.reconnect.onLost(now: loop.now))
    }

    private func reconnectAct(_ connection: Connection, _ action: ReconnectStateMachine.Action) {
        switch action {
        case .none:
            break
        case .wait(let ms):
            let timer = connection.reconnectTimer ?? loop.makeTimer { [weak self, weak connection] in
                guard let self, let connection else { return }
                self.reconnectAct(connection, connection.reconnect.onTimer())
            }
            connection.reconnectTimer = timer
            loop.arm(timer, after: .milliseconds(ms))
        case .connect:
            reconnectAttempts += 1
            let fresh = connection.session.makeSibling()
            connection.reconnectSession = fresh
            fresh.connect { [weak self, weak connection] result in
                guard let self, let connection, connection.reconnectSession === fresh else { return }
                switch result {
                case .success:
                    self.reconnectAct(connection, connection.reconnect.onAttemptSucceeded())
                case .failure(let error):
                    connection.reconnectSession = nil
                    self.reconnectAct(connection, connection.reconnect.onAttemptFailed(
                        "\(error)", retryable: Self.worthRetrying(error), now: self.loop.now))
                }
            }
        case .restore:
            guard let fresh = connection.reconnectSession else { return }
            connection.reconnectSession = nil
            restore(connection, on: fresh)
        case .giveUp(let reason):
            onReconnectGaveUp?(connection, reason)
        }
    }

    /// Takes the new session: status, forwards on their old ports, the viewer.
    private func restore(_ connection: Connection, on fresh: SSHSession) {
        connection.session = fresh
        watch(connection)
        connection.status = .connected
        // A forward whose local port was taken meanwhile cannot come back: it is dropped,
        // and named to the daemon's log.
        var dropped: [String] = []
        connection.forwards = connection.forwards.filter { forward in
            do { try forward.reopen(on: fresh, lanePolicy: lanePolicy, peerGuard: sameUserGuard); return true } catch {
                dropped.append("\(forward.id) (local port \(forward.localPort): \(error))")
                return false
            }
        }
        if let viewer = connection.viewer { viewerReconnected(connection, viewer) }
        onReconnected?(connection, dropped)
    }

    /// Stops trying (the connection is being deleted or the daemon stops).
    func cancelReconnect(_ connection: Connection) {
        connection.reconnect.onCancel()
        if let t = connection.reconnectTimer { loop.disarm(t) }
        connection.reconnectSession?.disconnect()
        connection.reconnectSession = nil
    }

    /// Whether another attempt can help: refused credentials or a missing key file stay
    /// refused, and a changed host key must never be logged in past.
    static func worthRetrying(_ error: SSHError) -> Bool {
        switch error {
        case .authenticationFailed, .hostKeyMismatch, .hostKeyUnknown, .secondFactorRequired, .invalidParameters:
            return false   // a person must decide
        case .timeout, .connectionFailed, .disconnected, .libssh2: return true
        case .jumpHost(_, let inner): return worthRetrying(inner)   // judged where it happened
        }
    }
}
