/// The verdict of `GET /api/remote/health` (remote_api.md): the SSH round trip, the
/// viewer's process and its tunnel, each pass/fail/skip, and the overall health.
public struct HealthReport: Equatable, Sendable {
    public enum Check: String, Sendable { case pass, fail, skip }

    public let sshConnection: Check
    public let viewerProcess: Check
    public let tunnelActive: Check

    /// `viewer`: nil when the connection has no viewer to check (both skip).
    public init(sshOK: Bool, viewer: (process: Bool, tunnel: Bool)?) {
        sshConnection = sshOK ? .pass : .fail
        viewerProcess = viewer.map { $0.process ? .pass : .fail } ?? .skip
        tunnelActive = viewer.map { $0.tunnel ? .pass : .fail } ?? .skip
    }

    /// unhealthy without SSH; degraded when the viewer or its tunnel fails; else healthy.
    public var health: String {
        if sshConnection == .fail { return "unhealthy" }
        return viewerProcess == .fail || tunnelActive == .fail ? "degraded" : "healthy"
    }
}

extension ConnectionRegistry {
    /// Runs the health checks: a ping, then (when SSH answers) the viewer's process and a
    /// GET through its tunnel. Without SSH a started viewer counts as failing both.
    public func health(_ connection: Connection, _ done: @escaping (HealthReport) -> Void) {
        ping(connection) { [weak self] result in
            guard case .success = result, let self else {
                let hasViewer = connection.viewer.map { $0.pid != nil && $0.machine.state != .stopped } ?? false
                return done(HealthReport(sshOK: false, viewer: hasViewer ? (false, false) : nil))
            }
            self.viewerChecks(connection) { done(HealthReport(sshOK: true, viewer: $0)) }
        }
    }
}
