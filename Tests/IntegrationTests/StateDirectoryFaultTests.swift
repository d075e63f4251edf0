import Foundation
import Glibc
import XCTest

/// The daemon's state directory failing under it: full (a 64 KiB tmpfs mounted in the
/// daemon's own mount namespace only, filled by the test through /proc/PID/root).
extension EnvironmentDetectionTests {
    func testAFullStateDirectoryLeavesTheViewerWorkingAndSaysSo() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("rviewer-fullstate-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: state) }
        let wrapper = ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                       "mount -t tmpfs -o size=64k,mode=0700 rviewer-test-state \"$0\" && exec \"$@\"", state]
        daemon = try DaemonProcess(environment: ["HOME": Self.sshd!.home.path], stateDirectory: state, wrapper: wrapper)
        let id = try connect()   // known_hosts is written while there is room
        let inside = "/proc/\(daemon.pid)/root\(state)"
        XCTAssertTrue(FileManager.default.fileExists(atPath: inside + "/known_hosts"), "the daemon's state is on its own tmpfs")
        XCTAssertFalse(FileManager.default.fileExists(atPath: state + "/known_hosts"), "and not on the machine's")
        try SSHDFixture.run("/bin/dd", ["if=/dev/zero", "of=\(inside)/fill", "bs=4k"], allowFailure: true)

        let started = try startViewer(id)
        XCTAssertEqual(started.status, 200, "the viewer starts though its record cannot be written: \(started.text)")
        let port = try XCTUnwrap((started.json?["viewer"] as? [String: Any])?["local_port"] as? Int)
        XCTAssertEqual(try httpGet(port: port, path: "/api/health").json?["status"] as? String, "ok")
        let warnings = try XCTUnwrap(try daemon.request("GET", "/api/health").json?["warnings"] as? [String])
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first?.contains("cannot be written") == true, "\(warnings)")
        XCTAssertTrue(warnings.first?.contains("No space left on device") == true, "\(warnings)")
        XCTAssertGreaterThanOrEqual(try daemon.metrics()["rviewer_ledger_save_failures_total"] ?? 0, 1)
        XCTAssertTrue(daemon.stderr.contains("viewer ledger:"), "the failure is logged")

        // Room again: the next save succeeds and the warning goes.
        try FileManager.default.removeItem(atPath: inside + "/fill")
        XCTAssertEqual(try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id], timeout: 30).status, 200)
        XCTAssertEqual(try daemon.request("GET", "/api/health").json?["warnings"] as? [String], [])
    }
}
