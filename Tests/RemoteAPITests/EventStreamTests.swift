import XCTest
@testable import RemoteAPI

/// The live events' diff: which events take a reader from one state to the next.
final class EventSnapshotTests: XCTestCase {
    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    private func snapshot(connections: [(String, String)] = [], viewers: [String: (String, String)] = [:],
                          forwards: [(String, String)] = []) -> EventSnapshot {
        var s = EventSnapshot()
        s.connections = connections.map { ($0.0, bytes($0.1)) }
        s.viewers = viewers.mapValues { (bytes($0.0), bytes($0.1)) }
        s.forwards = forwards.map { ($0.0, bytes($0.1)) }
        return s
    }

    private func names(_ events: [ServerEvent]) -> [String] {
        events.map { "\($0.name) \(String(decoding: $0.data, as: UTF8.self))" }
    }

    func testTheFirstSnapshotIsOneEventPerObjectInOrder() {
        let now = snapshot(connections: [("a", "A1"), ("b", "B1")], viewers: ["a": ("VA", "KA")], forwards: [("f", "F1")])
        XCTAssertEqual(names(EventSnapshot().changes(to: now)), ["connection A1", "viewer VA", "connection B1", "forward F1"])
    }

    func testOnlyWhatChangedIsSent() {
        let before = snapshot(connections: [("a", "A1"), ("b", "B1")], viewers: ["a": ("VA", "KA")], forwards: [("f", "F1")])
        XCTAssertEqual(names(before.changes(to: before)), [], "nothing changed, nothing sent")
        let after = snapshot(connections: [("a", "A1"), ("b", "B2")], viewers: ["a": ("VA-later", "KA")], forwards: [("f", "F2")])
        XCTAssertEqual(names(before.changes(to: after)), ["connection B2", "forward F2"],
                       "a viewer whose key (all but the uptime) is the same sends nothing")
        let restarted = snapshot(connections: [("a", "A1"), ("b", "B1")], viewers: ["a": ("VA2", "KA2")], forwards: [("f", "F1")])
        XCTAssertEqual(names(before.changes(to: restarted)), ["viewer VA2"])
    }

    func testWhatWentAwayIsRemovedForwardsBeforeTheirConnection() {
        let before = snapshot(connections: [("a", "A1")], viewers: ["a": ("VA", "KA")], forwards: [("f", "F1")])
        let events = names(before.changes(to: EventSnapshot()))
        XCTAssertEqual(events, [#"removed {"kind":"forward","id":"f"}"#, #"removed {"kind":"connection","id":"a"}"#])
    }

    func testAViewerThatWentReadsAsStopped() {
        let before = snapshot(connections: [("a", "A1")], viewers: ["a": ("VA", "KA")])
        let events = before.changes(to: snapshot(connections: [("a", "A1")]))
        XCTAssertEqual(events.map(\.name), ["viewer"])
        let data = String(decoding: events[0].data, as: UTF8.self)
        XCTAssertTrue(data.hasPrefix(#"{"connection_id":"a","viewer":{"status":"stopped""#), data)
    }

    func testTheWireFormIsOneEventLineAndOneDataLine() {
        var out: [UInt8] = []
        ServerEvent(name: "connection", data: JSON.object([("host", .string("a\nb"))]).encoded()).append(to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "event: connection\ndata: {\"host\":\"a\\nb\"}\n\n",
                       "a line break in a value stays escaped inside the one data line")
    }
}
