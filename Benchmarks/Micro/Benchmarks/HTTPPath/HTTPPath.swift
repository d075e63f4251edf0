import Benchmark
import HTTP1
import RemoteAPI

/// The daemon's per-request work without sockets: llhttp parse, guards, routing, the
/// handler's JSON and the response bytes, for the API rate's two hot endpoints.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                           scalingFactor: .kilo, maxDuration: .seconds(3))

    func run(_ name: String, _ head: String, connections: [ConnectionSummary]) {
        Benchmark(name) { benchmark in
            let limits = HTTPLimits()
            let api = RemoteAPI(limits: limits)
            let info = DaemonInfo(version: "bench", libraries: [("libssh2", "1.10.0")], startedAt: "2026-11-30T00:00:00Z", startedMonotonic: 0)
            api.addDaemonEndpoints(info: info, now: { 1_000_000_000 }, connections: { connections })
            let parser = HTTPParser(limits: limits)
            let request = Array(head.utf8)
            var out: [UInt8] = []
            out.reserveCapacity(4096)
            var status = 0
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let result = request.withUnsafeBytes { parser.feed($0) }
                precondition(result == .request(consumed: request.count), "\(result)")
                api.respond(to: parser.takeRequest()) { response in
                    status = response.status
                    out.removeAll(keepingCapacity: true)
                    response.serialize(keepAlive: true, into: &out)
                }
                blackHole(out)
            }
            benchmark.stopMeasurement()
            precondition(status == 200, "status \(status)")
        }
    }

    let wrkHead = "GET /api/remote/connections HTTP/1.1\r\nHost: 127.0.0.1:23300\r\n\r\n"
    run("GET /api/remote/connections, none", wrkHead, connections: [])
    run("GET /api/remote/connections, 3 connections", wrkHead, connections: (1...3).map {
        ConnectionSummary(connectionID: "conn_0000000\($0)", host: "gpu\($0).example.org", status: "connected",
                          viewer: $0 == 1 ? (status: "running", url: "http://localhost:8080") : nil)
    })
    run("GET /api/health, browser-like head", "GET /api/health HTTP/1.1\r\nHost: localhost:23300\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: application/json\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n", connections: [])
}
