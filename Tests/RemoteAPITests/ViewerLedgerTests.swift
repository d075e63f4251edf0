import Foundation
import Glibc
import XCTest
@testable import Remote

final class ViewerLedgerTests: XCTestCase {
    private func record(_ id: String = "viewer_0123abcd", host: String = "gpu-1", port: Int = 22, user: String = "ana") -> ViewerRecord {
        ViewerRecord(id: id, host: host, port: port, username: user, envName: "torch", pid: 4242, remotePort: 35001,
                     directory: "/home/ana/.cache/rviewer/\(id)", localPort: 40001, startedAt: "2026-11-30T10:00:00Z",
                     startedEpoch: 1_796_032_800)
    }

    func testRoundTripKeepsHostileStringsIntact() {
        var ledger = ViewerLedger()
        var odd = record("viewer_0000beef", host: "h\tost\n%41%", user: "u\r\nx")
        odd.envName = "env with\ttab and % and \n newline"
        odd.directory = "/home/u/.cache/rviewer/dir\twith\nbreaks"
        ledger.upsert(record())
        ledger.upsert(odd)
        let text = ledger.encoded()
        XCTAssertEqual(text.split(separator: "\n").count, 3, "one line per record after the header: \(text)")
        let (back, rejected) = ViewerLedger.decode(text)
        XCTAssertEqual(rejected, 0)
        XCTAssertEqual(back, ledger)
    }

    /// A daemon killed between writing the new ledger and renaming it over the old one
    /// leaves the old file whole and a half-written `.tmp` beside it: the next run reads
    /// the old list, ignores the leftover, and its next save replaces both cleanly.
    func testAKillBetweenWriteAndRenameLeavesTheOldLedgerReadable() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rviewer-ledger-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var old = ViewerLedger()
        old.upsert(record())
        try old.encoded().write(toFile: dir + "/viewers", atomically: false, encoding: .utf8)
        var newer = old
        newer.upsert(record("viewer_0000beef"))
        let half = String(newer.encoded().dropLast(40))   // the write cut short
        try half.write(toFile: dir + "/viewers.tmp", atomically: false, encoding: .utf8)

        let file = ViewerLedgerFile(path: dir + "/viewers")
        XCTAssertEqual(file.ledger, old, "the old list, whole")
        XCTAssertEqual(file.rejectedAtLoad, 0)
        file.upsert(record("viewer_00c0ffee"))
        XCTAssertNil(file.lastError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/viewers.tmp"), "the leftover is replaced by the rename")
        let (back, rejected) = ViewerLedger.decode(try String(contentsOfFile: dir + "/viewers", encoding: .utf8))
        XCTAssertEqual(rejected, 0)
        XCTAssertEqual(back.records.map(\.id).sorted(), ["viewer_00c0ffee", "viewer_0123abcd"])
    }

    func testUpsertReplacesAndRemoveForgets() {
        var ledger = ViewerLedger()
        ledger.upsert(record())
        var moved = record()
        moved.localPort = 40002
        ledger.upsert(moved)
        XCTAssertEqual(ledger.records, [moved])
        XCTAssertTrue(ledger.remove(id: moved.id))
        XCTAssertFalse(ledger.remove(id: moved.id))
        XCTAssertEqual(ledger.records, [])
    }

    func testUnclaimedMatchesTheDestinationAndSkipsHeldViewers() {
        var ledger = ViewerLedger()
        ledger.upsert(record("viewer_00000001"))
        ledger.upsert(record("viewer_00000002", port: 2222))
        ledger.upsert(record("viewer_00000003", user: "bob"))
        ledger.upsert(record("viewer_00000004"))
        XCTAssertEqual(ledger.unclaimed(host: "gpu-1", port: 22, username: "ana", held: []).map(\.id), ["viewer_00000001", "viewer_00000004"])
        XCTAssertEqual(ledger.unclaimed(host: "gpu-1", port: 22, username: "ana", held: ["viewer_00000001"]).map(\.id), ["viewer_00000004"])
        XCTAssertEqual(ledger.unclaimed(host: "gpu-2", port: 22, username: "ana", held: []), [])
    }

    func testForeignOrDamagedInputIsRejectedNotGuessed() {
        XCTAssertEqual(ViewerLedger.decode("").rejected, 0)
        XCTAssertEqual(ViewerLedger.decode("{\"viewers\": []}\n").ledger.records, [], "not our header: nothing taken")
        let good = ViewerLedger.escape("viewer_0123abcd")
        func line(_ fields: [String]) -> String { fields.joined(separator: "\t") }
        let base = [good, "gpu", "22", "ana", "torch", "4242", "35001", "/d", "0", "2026-11-30T10:00:00Z", "1"]
        var bad: [[String]] = []
        bad.append(Array(base.dropLast()))                                     // a field missing
        bad.append(base.enumerated().map { $0.offset == 0 ? "viewer_XYZ" : $0.element })    // not our id
        bad.append(base.enumerated().map { $0.offset == 5 ? "1" : $0.element })             // pid 1 (init)
        bad.append(base.enumerated().map { $0.offset == 5 ? "-7" : $0.element })            // negative pid
        bad.append(base.enumerated().map { $0.offset == 6 ? "70000" : $0.element })         // port out of range
        bad.append(base.enumerated().map { $0.offset == 7 ? "relative/dir" : $0.element })  // not absolute
        bad.append(base.enumerated().map { $0.offset == 1 ? "gpu%00" : $0.element })        // NUL
        bad.append(base.enumerated().map { $0.offset == 1 ? "gpu%zz" : $0.element })        // bad escape
        let text = ViewerLedger.header + "\n" + ([base] + bad).map(line).joined(separator: "\n") + "\n"
        let (ledger, rejected) = ViewerLedger.decode(text)
        XCTAssertEqual(ledger.records.map(\.id), ["viewer_0123abcd"])
        XCTAssertEqual(rejected, bad.count)
    }

    func testFileSavesAtomicallyPrivatelyAndReloads() throws {
        let dir = "/tmp/rviewer-ledger-\(UInt32.random(in: 0 ... .max))"
        XCTAssertEqual(mkdir(dir, 0o700), 0)
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let file = ViewerLedgerFile(path: dir + "/viewers")
        XCTAssertEqual(file.ledger.records, [])
        file.upsert(record())
        var st = stat()
        XCTAssertEqual(stat(dir + "/viewers", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/viewers.tmp"))
        XCTAssertEqual(ViewerLedgerFile(path: dir + "/viewers").ledger.records, [record()])
        file.remove(id: record().id)
        XCTAssertEqual(ViewerLedgerFile(path: dir + "/viewers").ledger.records, [])
        XCTAssertNil(file.lastError)
    }

    func testSaveFailureIsReportedAndMemoryStaysRight() {
        let file = ViewerLedgerFile(path: "/nonexistent-dir-\(UInt32.random(in: 0 ... .max))/viewers")
        var reported: [String] = []
        file.onSaveFailed = { reported.append($0) }
        file.upsert(record())
        XCTAssertEqual(file.ledger.records, [record()])
        XCTAssertEqual(reported.count, 1)
        XCTAssertTrue(reported.first?.contains("No such file or directory") == true, "\(reported)")
    }
}
