import SSH

/// Runs the detection script over one exec channel (one round trip) and keeps the
/// last result per connection; concurrent requests share one detection in flight.
extension ConnectionRegistry {
    /// Bound on one detection; hundreds of environments take well under a second.
    static let detectionTimeoutMs = 60_000

    /// The connection's last detection, running one first if there is none
    /// (or always, with `force`).
    public func environments(_ connection: Connection, force: Bool,
                             _ done: @escaping (Result<DetectionResult, SSHError>) -> Void) {
        if !force, let cached = connection.detection { return done(.success(cached)) }
        guard connection.status == .connected else {
            if case .disconnected(let reason) = connection.status { done(.failure(.disconnected(reason))) }
            return
        }
        connection.detectionWaiters.append(done)
        guard connection.detectionWaiters.count == 1 else { return }   // one already running
        // Holds the connection until answered (bounded by the command timeout): a DELETE
        // meanwhile fails the command, and every waiter still hears it.
        connection.session.exec(DetectionScript.text, timeoutMs: Self.detectionTimeoutMs) { outcome in
            let result: Result<DetectionResult, SSHError> = outcome.map { DetectionResult.parse($0.stdoutText) }
            if case .success(let r) = result { connection.detection = r }
            let waiters = connection.detectionWaiters
            connection.detectionWaiters = []
            for waiter in waiters { waiter(result) }
        }
    }
}
