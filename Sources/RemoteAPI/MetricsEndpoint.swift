import HTTP1

/// One sample of `GET /metrics` (decisions.md, "Front door": Prometheus text format
/// 0.0.4, names prefixed `rviewer_`).
public struct MetricSample: Sendable {
    public enum Kind: String, Sendable { case counter, gauge }

    public let name: String
    public let help: String
    public let kind: Kind
    public let value: UInt64

    public init(_ name: String, _ kind: Kind, _ value: UInt64, help: String) {
        self.name = name
        self.kind = kind
        self.value = value
        self.help = help
    }

    /// The sample's lines in the exposition format.
    var text: String { "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n\(name) \(value)\n" }
}

extension RemoteAPI {
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `GET /metrics`: what `samples` reports at the time of the request.
    public func addMetricsEndpoint(_ samples: @escaping () -> [MetricSample]) {
        add("GET", "/metrics") { call in
            let body = samples().map(\.text).joined()
            call.reply(HTTPResponse(status: 200, headers: [("Content-Type", Self.metricsContentType)], body: Array(body.utf8)))
        }
    }
}
