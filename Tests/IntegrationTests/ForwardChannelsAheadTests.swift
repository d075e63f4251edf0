import Foundation
import XCTest

/// `channels_ahead` on a generic forward (decisions.md "Forwards"): that many channels
/// to the target opened before any client, refilled as clients take them; 0 (the
/// default) keeps the forward transparent (ForwardTests.testGenericForwardOpensNothingAhead).
final class ForwardChannelsAheadTests: EchoTargetTestCase {

    private func waitFor(_ what: String, seconds: Double = 10, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() && Date() < deadline { usleep(20_000) }
        XCTAssertTrue(condition(), what)
    }

    func testChannelsAheadAreOpenBeforeAnyClientAndRefilled() throws {
        let r = try daemon.request("POST", "/api/remote/forwards", json: ["connection_id": connectionID, "remote_port": echo.port,
                                                                           "channels_ahead": 3])
        XCTAssertEqual(r.status, 200, r.text)
        let port = try XCTUnwrap(r.json?["local_port"] as? Int)
        waitFor("three connections to the target before any client") { echo.accepted == 3 }
        usleep(300_000)
        XCTAssertEqual(echo.accepted, 3, "no more than asked for")
        let list = try daemon.request("GET", "/api/remote/forwards")
        let entry = try XCTUnwrap((list.json?["forwards"] as? [[String: Any]])?.first)
        XCTAssertEqual(entry["channels_ahead"] as? Int, 3)

        // Two clients one after the other: each takes a channel opened ahead (its bytes
        // come back whole) and the forward opens another to stay three ahead.
        for (i, seed) in [UInt64(3), 4].enumerated() {
            let (sent, received) = ForwardTests.roundTrip(port: port, bytes: 100_000, seed: seed)
            XCTAssertEqual(received.count, sent.count)
            XCTAssertEqual(received.value, sent.value)
            waitFor("refilled to three ahead after client \(i + 1)") { echo.accepted == 3 + i + 1 }
        }
        let metrics = try daemon.metrics()
        XCTAssertEqual(metrics["rviewer_forwards"], 1)
    }

    func testChannelsAheadOutsideItsRangeIsRefusedAndOpensNothing() throws {
        for bad: Any in [17, -1, "3", 2.5, true] {
            let r = try daemon.request("POST", "/api/remote/forwards", json: ["connection_id": connectionID, "remote_port": echo.port,
                                                                               "channels_ahead": bad])
            XCTAssertEqual(r.status, 400, "channels_ahead \(bad): \(r.text)")
            XCTAssertEqual(r.json?["error"] as? String, "invalid_parameters")
            XCTAssertTrue((r.json?["message"] as? String ?? "").contains("channels_ahead"), r.text)
        }
        let list = try daemon.request("GET", "/api/remote/forwards")
        XCTAssertEqual(list.json?["total"] as? Int, 0)
        usleep(300_000)
        XCTAssertEqual(echo.accepted, 0)
    }
}
