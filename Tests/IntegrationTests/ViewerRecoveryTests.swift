import Foundation
import Glibc
import XCTest

/// A daemon that dies without stopping its viewers (SIGKILL here) leaves them running on
/// the server; the next run with the same state directory takes each back when its
/// server is connected again, and forgets the ones that ended meanwhile.
extension EnvironmentDetectionTests {
    /// The viewer ids in a daemon's ledger file.
    private func ledgerIDs(_ stateDirectory: String) -> [String] {
        let text = (try? String(contentsOfFile: stateDirectory + "/viewers", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").dropFirst().map { String($0.split(separator: "\t").first ?? "") }
    }

    func testViewerLeftByAKilledDaemonIsTakenBackByTheNextRun() throws {
        let first = try connect()
        let start = try startViewer(first)
        XCTAssertEqual(start.status, 200, start.text)
        let started = try XCTUnwrap(start.json?["viewer"] as? [String: Any])
        let localPort = try XCTUnwrap(started["local_port"] as? Int)
        let pid = try viewerPID()
        let state = daemon.stateDirectory
        XCTAssertEqual(ledgerIDs(state).count, 1, "the running viewer is recorded")

        let killed = daemon!
        killed.stop(signal: SIGKILL)
        XCTAssertEqual(kill(pid, 0), 0, "the viewer runs on without the daemon")

        // Another daemon (its own state) connecting to the same server leaves it alone.
        daemon = try DaemonProcess(environment: ["HOME": Self.sshd!.home.path])
        let stranger = try connect()
        usleep(2_000_000)
        let none = try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(stranger)").json?["viewer"] as? [String: Any]
        XCTAssertEqual(none?["status"] as? String, "stopped", "no viewer of its own")
        XCTAssertEqual(kill(pid, 0), 0)

        // The next run of the killed daemon takes it back: same process, same URL.
        daemon = try DaemonProcess(environment: ["HOME": Self.sshd!.home.path], stateDirectory: state)
        let second = try connect()
        let back = try waitForViewer(second, status: "running")
        XCTAssertEqual(back?["url"] as? String, "http://localhost:\(localPort)")
        XCTAssertGreaterThanOrEqual(back?["uptime_seconds"] as? Int ?? -1, 1, "its uptime counts from its first start (a new one would be 0)")
        XCTAssertEqual(try httpGet(port: localPort, path: "/api/health").json?["status"] as? String, "ok")
        XCTAssertEqual(try viewerPID(), pid)
        XCTAssertEqual(runningViewers().count, 1, "no second viewer was started")
        XCTAssertEqual(try startViewer(second).json?["error"] as? String, "viewer_already_running")
        XCTAssertTrue(daemon.stderr.contains("from an earlier run is running: taken back on \(second)"), daemon.stderr)

        let stop = try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": second, "cleanup": true], timeout: 30)
        XCTAssertEqual(stop.status, 200, stop.text)
        XCTAssertNotEqual(kill(pid, 0), 0, "stopped for good")
        XCTAssertEqual(ledgerIDs(state), [], "a stopped viewer is no longer recorded")
        _ = killed
    }

    func testRecordsOfEndedViewersAndReusedPidsAreForgottenWithoutKillingAnything() throws {
        let first = try connect()
        XCTAssertEqual(try startViewer(first).status, 200)
        let pid = try viewerPID()
        let state = daemon.stateDirectory
        let killed = daemon!
        killed.stop(signal: SIGKILL)
        kill(-pid, SIGKILL)   // the viewer ends while no daemon runs
        XCTAssertEqual(ledgerIDs(state).count, 1)

        // A second record whose pid now belongs to another process, one that even names
        // a Runicorn viewer, on another port: it must be neither taken nor signalled.
        // It runs as the login user, so a signal from the daemon's commands would reach it.
        let account = try XCTUnwrap(getpwnam(Self.user)).pointee
        let impostor = Process()
        impostor.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")   // execs in place: the pid is python's
        impostor.arguments = ["--reuid=\(account.pw_uid)", "--regid=\(account.pw_gid)", "--clear-groups", "/usr/bin/python3",
                              "-c", "import time; time.sleep(120)", "-m", "runicorn", "viewer", "--host", "127.0.0.1", "--port", "1", "--remote-mode"]
        try impostor.run()
        defer { impostor.terminate() }
        let dir = Self.home + "/.cache/rviewer/viewer_0000beef"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fields = ["viewer_0000beef", "127.0.0.1", "\(Self.sshd!.port)", Self.user, "runi", "\(impostor.processIdentifier)", "2",
                      dir, "0", "2026-01-01T00:00:00Z", "1767225600"]
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: state + "/viewers"))
        handle.seekToEndOfFile()
        handle.write(Data((fields.joined(separator: "\t") + "\n").utf8))
        handle.closeFile()
        XCTAssertEqual(ledgerIDs(state).count, 2)

        daemon = try DaemonProcess(environment: ["HOME": Self.sshd!.home.path], stateDirectory: state)
        XCTAssertTrue(daemon.stderr.contains("2 viewer(s) an earlier run did not stop are recorded"), daemon.stderr)
        let second = try connect()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && !ledgerIDs(state).isEmpty { usleep(50_000) }
        XCTAssertEqual(ledgerIDs(state), [], "both records forgotten")
        XCTAssertEqual(daemon.stderr.components(separatedBy: "from an earlier run has ended; forgotten").count - 1, 2, daemon.stderr)
        XCTAssertTrue(impostor.isRunning, "the process that took the pid was not signalled")
        let status = try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(second)").json?["viewer"] as? [String: Any]
        XCTAssertEqual(status?["status"] as? String, "stopped")
        XCTAssertEqual(try startViewer(second).status, 200, "the connection's slot is free")
        XCTAssertEqual(try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": second, "cleanup": true], timeout: 30).status, 200)
        _ = killed
    }

    func testDisconnectWithoutCleanupKeepsTheViewerForTheNextConnection() throws {
        let first = try connect()
        let start = try startViewer(first)
        XCTAssertEqual(start.status, 200, start.text)
        let pid = try viewerPID()
        let delete = try daemon.request("DELETE", "/api/remote/connections/\(first)?cleanup_viewer=false", timeout: 30)
        XCTAssertEqual(delete.status, 200, delete.text)
        XCTAssertEqual(kill(pid, 0), 0, "asked to keep running")
        XCTAssertEqual(ledgerIDs(daemon.stateDirectory).count, 1, "and still recorded")
        let second = try connect()
        XCTAssertEqual(try waitForViewer(second, status: "running")?["url"] as? String,
                       (start.json?["viewer"] as? [String: Any])?["url"] as? String)
        XCTAssertEqual(try viewerPID(), pid)
        // The log names where it came from: this run kept it; no earlier run was involved.
        XCTAssertTrue(daemon.stderr.contains("kept by an earlier connection of this run is running: taken back on \(second)"), daemon.stderr)
        XCTAssertFalse(daemon.stderr.contains("from an earlier run"), daemon.stderr)
        XCTAssertEqual(try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": second, "cleanup": true], timeout: 30).status, 200)
        XCTAssertNotEqual(kill(pid, 0), 0)
        XCTAssertEqual(ledgerIDs(daemon.stateDirectory), [])
    }
}
