import Reactor
import SSH

/// What one remote command tells about the server at connect time (decisions.md).
public struct ServerInfo: Equatable, Sendable {
    public var hostname: String?
    public var os: String?
    /// Bare number ("3.10.8") of the remote `python3`, or nil.
    public var pythonVersion: String?

    /// The one command; prints `key=value` lines the parser reads.
    public static let command = "printf 'os=%s\\nhostname=%s\\npython=%s\\n' \"$(uname -s 2>/dev/null)\" \"$(uname -n 2>/dev/null)\" \"$(python3 -V 2>&1)\""

    public init(hostname: String?, os: String?, pythonVersion: String?) {
        self.hostname = hostname
        self.os = os
        self.pythonVersion = pythonVersion
    }

    public static func parse(_ output: String) -> ServerInfo {
        var info = ServerInfo(hostname: nil, os: nil, pythonVersion: nil)
        for line in output.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq]
            let value = String(line[line.index(after: eq)...])
            switch key {
            case "os": info.os = value.isEmpty ? nil : value
            case "hostname": info.hostname = value.isEmpty ? nil : value
            case "python": info.pythonVersion = pythonVersion(in: value)
            default: break
            }
        }
        return info
    }

    /// "Python 3.11.2" -> "3.11.2"; anything else (command not found) -> nil.
    public static func pythonVersion(in text: String) -> String? {
        guard text.hasPrefix("Python ") else { return nil }
        let v = text.dropFirst("Python ".count).prefix { $0.isNumber || $0 == "." }
        return v.split(separator: ".").count >= 2 ? String(v) : nil
    }
}

/// One SSH connection the user opened.
public final class Connection {
    public enum Status: Equatable, Sendable {
        case connected
        /// The session died; `reason` says how.
        case disconnected(reason: String)

        public var name: String {
            switch self {
            case .connected: return "connected"
            case .disconnected: return "disconnected"
            }
        }
    }

    public let id: String
    /// As the user named it (an alias stays an alias).
    public let host: String
    public let port: Int
    public let username: String
    public let createdAt: String
    public let serverInfo: ServerInfo
    public internal(set) var status: Status = .connected { didSet { changed?() } }
    /// The last environment detection, if any.
    public internal(set) var detection: DetectionResult?
    var detectionWaiters: [(Result<DetectionResult, SSHError>) -> Void] = []
    /// The last measured SSH round trip in milliseconds (a ping), if any.
    public internal(set) var lastRoundTripMs: Double?
    /// Pings waiting for the round trip in flight (concurrent pings share one).
    var pingWaiters: [(Result<Double, SSHError>) -> Void] = []
    /// The viewer started on this connection (at most one), if any.
    public internal(set) var viewer: Viewer? {
        didSet {
            viewer?.changed = changed
            changed?()
        }
    }
    /// Generic forwards through this connection, in the order they were opened.
    public internal(set) var forwards: [Forward] = [] { didSet { changed?() } }
    /// The SSH session; a new one after a reconnect.
    var session: SSHSession
    /// Logging in again after the session died (key and agent logins only).
    public internal(set) var reconnect: ReconnectStateMachine { didSet { changed?() } }
    /// Told after anything the API shows of this connection (or its viewer) may have
    /// changed: status, reconnecting, viewer, forwards (the live events' source).
    var changed: (() -> Void)?
    var reconnectTimer: Reactor.Timer?
    /// The session of the reconnect attempt in flight.
    var reconnectSession: SSHSession?

    /// Commands and pings running on its session now.
    public var commandChannelCount: Int { status == .connected ? session.commandChannelCount : 0 }

    /// The jump hosts on the way, as `host:port`, nearest first (`via`; [] when direct).
    public var via: [String] { session.route.hops }

    init(id: String, host: String, port: Int, username: String, createdAt: String, serverInfo: ServerInfo, session: SSHSession) {
        self.id = id
        self.host = host
        self.port = port
        self.username = username
        self.createdAt = createdAt
        self.serverInfo = serverInfo
        self.session = session
        self.reconnect = ReconnectStateMachine(enabled: session.canLogInAgainSilently && !session.usedSecondFactor)
    }
}
