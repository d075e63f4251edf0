/// What the daemon reports about itself on `GET /api/health`.
public struct DaemonInfo: Sendable {
    public let version: String
    /// Library versions linked in, e.g. ["libssh2": "1.10.0"].
    public let libraries: [(String, String)]
    public let startedAt: String
    /// Monotonic nanoseconds at start, for the uptime.
    public let startedMonotonic: UInt64

    public init(version: String, libraries: [(String, String)], startedAt: String, startedMonotonic: UInt64) {
        self.version = version
        self.libraries = libraries
        self.startedAt = startedAt
        self.startedMonotonic = startedMonotonic
    }
}

/// One entry of `GET /api/remote/connections`, in the spec's shape.
public struct ConnectionSummary: Sendable {
    public let connectionID: String
    public let host: String
    public let status: String
    /// Logging in again after the session died (extra field).
    public let reconnecting: Bool
    /// `{status, url}` of the connection's viewer; nil (JSON null) without one.
    public let viewer: (status: String, url: String)?
    /// Jump hosts on the way, `host:port` (extra field; [] when direct).
    public let via: [String]
    /// The connect answer's fields (extra; what a console shows): port, username,
    /// server_info, created_at. Nil leaves them out.
    public var details: [(String, JSON)]?

    public init(connectionID: String, host: String, status: String, reconnecting: Bool = false,
                viewer: (status: String, url: String)?, via: [String] = [], details: [(String, JSON)]? = nil) {
        self.via = via
        self.details = details
        self.connectionID = connectionID
        self.host = host
        self.status = status
        self.reconnecting = reconnecting
        self.viewer = viewer
    }

    var json: JSON {
        .object([
            ("connection_id", .string(connectionID)),
            ("host", .string(host)),
            ("status", .string(status)),
            ("reconnecting", .bool(reconnecting)),
            ("viewer", viewer.map { JSON.object([("status", .string($0.status)), ("url", .string($0.url))]) } ?? .null),
            ("via", .array(via.map { .string($0) })),
        ] + (details ?? []))
    }
}

extension RemoteAPI {
    /// `GET /api/health` (the daemon itself) and `GET /api/remote/connections`.
    /// `warnings`: what the daemon cannot do as it should right now (e.g. its state
    /// directory cannot be written), in words for the user; [] when all is well.
    public func addDaemonEndpoints(info: DaemonInfo, now: @escaping () -> UInt64,
                                   connections: @escaping () -> [ConnectionSummary], warnings: @escaping () -> [String] = { [] }) {
        add("GET", "/api/health") { call in
            call.succeed([
                ("status", .string("ok")),
                ("version", .string(info.version)),
                ("started_at", .string(info.startedAt)),
                ("uptime_seconds", .number(Double((now() &- info.startedMonotonic) / 1_000_000) / 1000)),
                ("libraries", .object(info.libraries.map { ($0.0, JSON.string($0.1)) })),
                ("warnings", .array(warnings().map(JSON.string))),
            ])
        }
        add("GET", "/api/remote/connections") { call in
            let list = connections()
            call.succeed([("connections", .array(list.map(\.json))), ("total", .int(list.count))])
        }
    }
}
