import Reactor

/// What the API counts about the requests it answers: per route (the pattern, not the
/// path, so ids do not multiply the series), method and status, and a latency histogram
/// from dispatch to the answer (for `GET /metrics`).
final class RequestStats {
    /// Histogram bounds in seconds: Prometheus' default buckets from 0.5 ms (an API
    /// answer from memory) to 10 s (a login or a detection over a slow link).
    static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct Key: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    private var counts: [Key: UInt64] = [:]
    private var buckets = [UInt64](repeating: 0, count: RequestStats.bounds.count)
    private var total: UInt64 = 0
    private var sum: Double = 0

    func record(route: String, method: String, status: Int, seconds: Double) {
        counts[Key(route: route, method: method, status: status), default: 0] += 1
        total += 1
        sum += seconds
        if let i = Self.bounds.firstIndex(where: { seconds <= $0 }) { buckets[i] += 1 }
    }

    var families: [MetricFamily] {
        let requests = counts.sorted { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }
            .map { MetricFamily.Sample(Double($0.value), labels: [("route", $0.key.route), ("method", $0.key.method), ("status", String($0.key.status))]) }
        var histogram: [MetricFamily.Sample] = []
        var cumulative: UInt64 = 0
        for (bound, n) in zip(Self.bounds, buckets) {
            cumulative += n
            histogram.append(.init(Double(cumulative), labels: [("le", MetricFamily.format(bound))], suffix: "_bucket"))
        }
        histogram.append(.init(Double(total), labels: [("le", "+Inf")], suffix: "_bucket"))
        histogram.append(.init(sum, suffix: "_sum"))
        histogram.append(.init(Double(total), suffix: "_count"))
        return [
            MetricFamily("rviewer_http_requests_total", .counter, help: "API requests answered, by route pattern, method and status", requests),
            MetricFamily("rviewer_http_request_duration_seconds", .histogram, help: "Time from a request's dispatch to its answer", histogram),
        ]
    }
}
