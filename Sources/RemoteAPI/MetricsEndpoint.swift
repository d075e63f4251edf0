import HTTP1

/// One metric of `GET /metrics` (decisions.md, "Front door": Prometheus text format
/// 0.0.4, names prefixed `rviewer_`): its help, its type and its samples, each with
/// its labels.
public struct MetricFamily: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    public struct Sample: Sendable {
        /// Appended to the family's name (`_bucket`, `_sum`, `_count` for histograms).
        public var suffix: String
        public var labels: [(String, String)]
        public var value: Double

        public init(_ value: Double, labels: [(String, String)] = [], suffix: String = "") {
            self.value = value
            self.labels = labels
            self.suffix = suffix
        }
    }

    public let name: String
    public let help: String
    public let kind: Kind
    public var samples: [Sample]

    public init(_ name: String, _ kind: Kind, help: String, _ samples: [Sample]) {
        self.name = name
        self.kind = kind
        self.help = help
        self.samples = samples
    }

    /// One unlabelled sample.
    public init(_ name: String, _ kind: Kind, _ value: UInt64, help: String) {
        self.init(name, kind, help: help, [Sample(Double(value))])
    }

    /// The family's lines in the exposition format.
    var text: String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
        for s in samples {
            out += name + s.suffix
            if !s.labels.isEmpty {
                out += "{" + s.labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
            }
            out += " " + Self.format(s.value) + "\n"
        }
        return out
    }

    /// Label values escape backslash, double quote and line feed (the format's rule).
    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func format(_ value: Double) -> String {
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

extension RemoteAPI {
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `GET /metrics`: what `families` reports at the time of the request, then the
    /// API's own request counts and latency histogram.
    public func addMetricsEndpoint(_ families: @escaping () -> [MetricFamily]) {
        add("GET", "/metrics") { [unowned self] call in
            let body = (families() + self.requestStats.families).map(\.text).joined()
            call.reply(HTTPResponse(status: 200, headers: [("Content-Type", Self.metricsContentType)], body: Array(body.utf8)))
        }
    }
}
