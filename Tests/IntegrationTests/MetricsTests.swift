import Foundation
import Glibc
import XCTest

/// `GET /metrics` read by Prometheus' own text parser (python3-prometheus-client), and
/// its counters moving as the things they count happen: a connection, a forward and the
/// bytes through it, pings, requests by route and status, the latency histogram.
final class MetricsTests: XCTestCase {
    private var sshd: SSHDFixture!
    private var daemon: DaemonProcess!
    private var echo: EchoServer!

    override func setUpWithError() throws {
        sshd = try SSHDFixture()
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
        echo = try EchoServer()
    }

    override func tearDown() {
        daemon = nil
        sshd = nil
        echo = nil
    }

    /// name{labels} -> value, as the Prometheus parser reads the page (it fails on a page
    /// that breaks the format).
    private func scrape() throws -> [String: Double] {
        let page = try daemon.request("GET", "/metrics").text
        let file = daemon.directory.appendingPathComponent("metrics.txt").path
        try page.write(toFile: file, atomically: true, encoding: .utf8)
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                    out[s.name + ("{" + labels + "}" if labels else "")] = s.value
            print(json.dumps(out))
            """
        let json = try SSHDFixture.run("/usr/bin/python3", ["-c", script, file])
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Double], json)
    }

    func testTheParserReadsThePageAndTheCountersMove() throws {
        let empty = try scrape()
        XCTAssertEqual(empty["rviewer_connections{status=connected}"], 0)
        XCTAssertEqual(empty["rviewer_ssh_sessions"], 0)

        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
                                                                          "auth_method": "key", "private_key_path": sshd.ed25519Key])
        let id = try XCTUnwrap(r.json?["connection_id"] as? String, r.text)
        let f = try daemon.request("POST", "/api/remote/forwards", json: ["connection_id": id, "remote_port": echo.port])
        let forwardID = try XCTUnwrap(f.json?["forward_id"] as? String)
        let port = try XCTUnwrap(f.json?["local_port"] as? Int)
        let (sent, received) = ForwardTests.roundTrip(port: port, bytes: 300_000, seed: 4)
        XCTAssertEqual(received.value, sent.value)
        for _ in 0..<3 { XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200) }
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections/x").status, 405)
        XCTAssertEqual(try daemon.request("GET", "/no/such/route").status, 404)

        let m = try scrape()
        XCTAssertEqual(m["rviewer_connections{status=connected}"], 1)
        XCTAssertEqual(m["rviewer_connections{status=disconnected}"], 0)
        XCTAssertEqual(m["rviewer_ssh_sessions"], 1)
        XCTAssertEqual(m["rviewer_forwards"], 1)
        XCTAssertEqual(m["rviewer_tunnel_clients_total"], 1)
        XCTAssertEqual(m["rviewer_tunnel_clients_active"], 0, "the client is gone")
        XCTAssertEqual(m["rviewer_tunnel_bytes_total{direction=up,tunnel=\(forwardID)}"], 300_000)
        XCTAssertEqual(m["rviewer_tunnel_bytes_total{direction=down,tunnel=\(forwardID)}"], 300_000)
        XCTAssertGreaterThan(m["rviewer_ssh_round_trip_seconds{connection=\(id)}"] ?? 0, 0)
        XCTAssertEqual(m["rviewer_http_requests_total{method=GET,route=/api/remote/ping,status=200}"], 3)
        XCTAssertEqual(m["rviewer_http_requests_total{method=POST,route=/api/remote/connect,status=200}"], 1)
        XCTAssertEqual(m["rviewer_http_requests_total{method=GET,route=(none),status=404}"], 1, "by pattern, not by path")
        XCTAssertEqual(m["rviewer_http_requests_total{method=GET,route=(none),status=405}"], 1)
        let count = try XCTUnwrap(m["rviewer_http_request_duration_seconds_count"])
        let answered = m.filter { $0.key.hasPrefix("rviewer_http_requests_total{") }.values.reduce(0, +)
        XCTAssertEqual(count, answered, "every answered request is in the histogram")
        XCTAssertEqual(m["rviewer_http_request_duration_seconds_bucket{le=+Inf}"], count)
        XCTAssertLessThanOrEqual(m["rviewer_http_request_duration_seconds_bucket{le=0.001}"] ?? -1,
                                 m["rviewer_http_request_duration_seconds_bucket{le=0.01}"] ?? -2, "buckets are cumulative")
        XCTAssertEqual(m["rviewer_reconnect_attempts_total"], 0)
    }
}
