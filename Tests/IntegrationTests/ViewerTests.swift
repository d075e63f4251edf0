import Foundation
import Glibc
import XCTest

/// How many channels the viewer's tunnel keeps open ahead (ViewerService.viewerSpareChannels).
enum ConnectionsAhead {
    static let viewer = 6
}

/// The real Runicorn viewer started, served through its tunnel, watched and stopped.
extension EnvironmentDetectionTests {
    func startViewer(_ id: String, env: String = "runi") throws -> RawClient.Response {
        try daemon.request("POST", "/api/remote/viewer/start", json: ["connection_id": id, "env_name": env, "auto_open": false], timeout: 120)
    }

    func viewerPID() throws -> Int32 {
        let dirs = try FileManager.default.contentsOfDirectory(atPath: Self.home + "/.cache/rviewer")
        let text = try String(contentsOfFile: Self.home + "/.cache/rviewer/" + dirs.sorted().last! + "/pid", encoding: .utf8)
        return try XCTUnwrap(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    func httpGet(port: Int, path: String) throws -> RawClient.Response {
        let c = try RawClient(port: port, timeout: 10)
        try c.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n")
        return try c.readResponse()
    }

    func testViewerStartServeStatusLogsHealthStop() throws {
        let id = try connect()
        let r = try startViewer(id)
        XCTAssertEqual(r.status, 200, r.text)
        let viewer = try XCTUnwrap(r.json?["viewer"] as? [String: Any])
        XCTAssertEqual(viewer["status"] as? String, "running")
        let localPort = try XCTUnwrap(viewer["local_port"] as? Int)
        XCTAssertEqual(viewer["url"] as? String, "http://localhost:\(localPort)")
        XCTAssertNotNil(viewer["started_at"] as? String)

        // The log says where uvicorn listens on the server: fetch the same endpoint directly.
        let logs = try daemon.request("GET", "/api/remote/viewer/logs?connection_id=\(id)&lines=50").json
        let lines = try XCTUnwrap(logs?["logs"] as? [String])
        XCTAssertEqual(logs?["total_lines"] as? Int, lines.count)
        let running = try XCTUnwrap(lines.first { $0.contains("Uvicorn running on http://127.0.0.1:") }, "\(lines)")
        let remotePort = try XCTUnwrap(Int(running.split(separator: ":").last!.prefix { $0.isNumber }))
        let viaTunnel = try httpGet(port: localPort, path: "/api/health")
        let direct = try httpGet(port: remotePort, path: "/api/health")
        XCTAssertEqual(viaTunnel.status, 200)
        XCTAssertEqual(viaTunnel.text, direct.text)
        XCTAssertEqual(viaTunnel.json?["storage"] as? String, Self.home + "/runs")

        XCTAssertEqual(try startViewer(id).json?["error"] as? String, "viewer_already_running")

        let status = try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(id)").json?["viewer"] as? [String: Any]
        XCTAssertEqual(status?["status"] as? String, "running")
        XCTAssertEqual(status?["health"] as? String, "healthy")
        XCTAssertNotNil(status?["uptime_seconds"] as? Int)
        let health = try daemon.request("GET", "/api/remote/health?connection_id=\(id)").json
        XCTAssertEqual(health?["health"] as? String, "healthy")
        XCTAssertEqual(health?["checks"] as? [String: String], ["ssh_connection": "pass", "viewer_process": "pass", "tunnel_active": "pass"])
        let list = try daemon.request("GET", "/api/remote/connections").json?["connections"] as? [[String: Any]]
        XCTAssertEqual((list?.first?["viewer"] as? [String: String])?["url"], "http://localhost:\(localPort)")

        let pid = try viewerPID()
        XCTAssertEqual(kill(pid, 0), 0)
        let stop = try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id, "cleanup": true], timeout: 30)
        XCTAssertEqual(stop.status, 200, stop.text)
        XCTAssertEqual(stop.json?["message"] as? String, "Remote Viewer stopped successfully")
        XCTAssertNotEqual(kill(pid, 0), 0, "the remote process is gone")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: Self.home + "/.cache/rviewer"))?.count ?? 0, 0, "cleanup removed its directory")
        XCTAssertThrowsError(try httpGet(port: localPort, path: "/api/health"), "the local listener is closed")
        let after = try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(id)").json?["viewer"] as? [String: Any]
        XCTAssertEqual(after?["status"] as? String, "stopped")
    }

    func testTakenLocalPortIs400BeforeAnythingRuns() throws {
        let id = try connect()
        XCTAssertEqual(try daemon.request("GET", "/api/remote/environments?connection_id=\(id)").status, 200)
        let taken = SSHDFixture.listenLoopback(backlog: 1)
        defer { close(taken.fd) }
        let sessionsBefore = Self.sshd!.log.components(separatedBy: "Starting session").count
        let r = try daemon.request("POST", "/api/remote/viewer/start", json: ["connection_id": id, "env_name": "runi", "auto_open": false,
                                                                               "local_port": taken.port])
        XCTAssertEqual(r.status, 400, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "invalid_parameters")
        XCTAssertTrue((r.json?["message"] as? String ?? "").contains("local port \(taken.port)"), r.text)
        usleep(200_000)
        XCTAssertEqual(Self.sshd!.log.components(separatedBy: "Starting session").count, sessionsBefore, "no viewer was launched")
        XCTAssertEqual(runningViewers(), [])
        let status = try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(id)").json?["viewer"] as? [String: Any]
        XCTAssertEqual(status?["status"] as? String, "stopped")
    }

    func testViewerInEnvironmentWithoutRunicornIs400WithInstallCommand() throws {
        let id = try connect()
        let r = try startViewer(id, env: "alpha")
        XCTAssertEqual(r.status, 400, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "runicorn_not_installed")
        XCTAssertTrue((r.json?["message"] as? String ?? "").contains("'\(Self.home)/.virtualenvs/alpha/bin/python3' '-m' 'pip' 'install' 'runicorn'"), r.text)
        XCTAssertEqual(try startViewer(id, env: "nope").json?["error"] as? String, "environment_not_found")
        let status = try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(id)").json?["viewer"] as? [String: Any]
        XCTAssertEqual(status?["status"] as? String, "stopped")
    }

    func testViewerKilledFromOutsideIsReported() throws {
        let (id, localPort, remotePort) = try connectWithRunningViewer()
        try waitForChannelsAhead(remotePort, count: ConnectionsAhead.viewer)
        let opensBefore = directTCPIPOpens()
        let cpuBefore = try daemon.cpuSeconds()
        kill(-(try viewerPID()), SIGKILL)
        // The server ends the channels held open ahead: they close, and none is opened
        // again (it would be refused) until a client comes; no request comes meanwhile.
        usleep(3_000_000)
        XCTAssertEqual(directTCPIPOpens(), opensBefore, "no channel opens after the viewer died, unasked")
        XCTAssertLessThan(try daemon.cpuSeconds() - cpuBefore, 1, "the daemon does not spin on what the server sent")
        XCTAssertEqual(try serverConnections(toPort: remotePort).count, 0)
        var status = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            status = (try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(id)").json?["viewer"] as? [String: Any])?["status"] as? String ?? ""
            if status == "failed" { break }
            usleep(250_000)
        }
        XCTAssertEqual(status, "failed")
        let health = try daemon.request("GET", "/api/remote/health?connection_id=\(id)").json
        XCTAssertEqual((health?["checks"] as? [String: String])?["viewer_process"], "fail")
        XCTAssertNotEqual(health?["health"] as? String, "healthy")
        XCTAssertThrowsError(try httpGet(port: localPort, path: "/api/health"), "its listener is closed")
        XCTAssertEqual(try daemon.request("GET", "/api/health").status, 200)
        _ = try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id])
    }

    /// A new connection with a viewer started on it: its id, local and remote ports.
    func connectWithRunningViewer() throws -> (id: String, localPort: Int, remotePort: Int) {
        let id = try connect()
        let r = try startViewer(id)
        XCTAssertEqual(r.status, 200, r.text)
        let localPort = try XCTUnwrap((r.json?["viewer"] as? [String: Any])?["local_port"] as? Int)
        return (id, localPort, try viewerRemotePort())
    }

    /// The port the viewer listens on, on the server (from its command line).
    func viewerRemotePort() throws -> Int {
        let ps = try SSHDFixture.run("/bin/sh", ["-c", "pgrep -u \(Self.user) -af 'runicorn viewer' || true"])
        let match = try XCTUnwrap(ps.range(of: #"--port (\d+)"#, options: .regularExpression), ps)
        return try XCTUnwrap(Int(ps[match].dropFirst("--port ".count)))
    }

    /// sshd's connections to `port` on the server (one per open channel of a tunnel to
    /// it), by sshd's local port: true once one carried bytes to it (a request).
    func serverConnections(toPort port: Int) throws -> [Int: Bool] {
        // `ss` comes with iproute2 (scripts/setup.sh test); a missing one fails the test.
        let out = try SSHDFixture.run("/bin/sh", ["-c", "ss -Htin state established '( dport = :\(port) )'"])
        var result: [Int: Bool] = [:]
        var current: Int?
        for line in out.split(separator: "\n") {
            if line.first == "\t" || line.first == " " {
                if let c = current { result[c] = line.contains("bytes_sent:") }
            } else {
                let fields = line.split(separator: " ")
                current = fields.count >= 4 ? fields[2].split(separator: ":").last.flatMap { Int($0) } : nil
                if let c = current { result[c] = false }
            }
        }
        return result
    }

    /// Waits until sshd holds `count` connections to `port`; returns them.
    @discardableResult
    func waitForChannelsAhead(_ port: Int, count: Int, timeout: TimeInterval = 15) throws -> [Int: Bool] {
        var seen: [Int: Bool] = [:]
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            seen = try serverConnections(toPort: port)
            if seen.count == count { break }
            usleep(50_000)
        }
        XCTAssertEqual(seen.count, count, "sshd's connections to port \(port)")
        return seen
    }

    /// direct-tcpip channel opens sshd has logged so far.
    func directTCPIPOpens() -> Int { Self.sshd!.log.components(separatedBy: "ctype direct-tcpip").count - 1 }

    func testViewerTunnelHoldsChannelsOpenForTheBrowsersConnections() throws {
        let (id, localPort, remotePort) = try connectWithRunningViewer()
        let ahead = try waitForChannelsAhead(remotePort, count: ConnectionsAhead.viewer)
        XCTAssertFalse(ahead.values.contains(true), "nothing went through them yet")
        // A browser opens its connections at once: each request rides a channel opened ahead.
        let clients = try (0..<ConnectionsAhead.viewer).map { _ in try RawClient(port: localPort, timeout: 10) }
        for c in clients { try c.send("GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n") }
        for c in clients { XCTAssertEqual(try c.readResponse().status, 200) }
        let after = try serverConnections(toPort: remotePort)
        XCTAssertEqual(ahead.keys.filter { after[$0] == true }.count, ConnectionsAhead.viewer, "\(ahead) -> \(after)")
        // As many are opened again for the next clients, while these stay connected.
        try waitForChannelsAhead(remotePort, count: 2 * ConnectionsAhead.viewer)
        XCTAssertEqual(try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id, "cleanup": true], timeout: 30).status, 200)
        XCTAssertEqual(try serverConnections(toPort: remotePort).count, 0, "the stop ended them all")
        _ = clients
    }

    func waitForViewer(_ id: String, status wanted: String, timeout: TimeInterval = 30) throws -> [String: Any]? {
        var viewer: [String: Any]?
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            viewer = try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(id)").json?["viewer"] as? [String: Any]
            if viewer?["status"] as? String == wanted { break }
            usleep(50_000)
        }
        XCTAssertEqual(viewer?["status"] as? String, wanted, "\(String(describing: viewer))")
        return viewer
    }

    func testViewerComesBackAfterTheConnectionDrops() throws {
        let id = try connect()
        let r = try startViewer(id)
        XCTAssertEqual(r.status, 200, r.text)
        let localPort = try XCTUnwrap((r.json?["viewer"] as? [String: Any])?["local_port"] as? Int)
        let pid = try viewerPID()
        let listener = try XCTUnwrap(Self.sshd!.process?.pid)
        // The link drops and the server does not answer for a while: the listener is
        // frozen, this login's sshd processes are gone; the viewer, in its own session,
        // runs on.
        kill(listener, SIGSTOP)
        defer { kill(listener, SIGCONT) }
        Self.sshd!.dropSessions()
        let lost = try waitForViewer(id, status: "failed")
        let error = lost?["error"] as? String ?? ""
        XCTAssertTrue(error.contains("SSH connection was lost") && error.contains("may still be running"), error)
        XCTAssertEqual(kill(pid, 0), 0, "the viewer runs on: the daemon must not claim it exited")
        let list = try daemon.request("GET", "/api/remote/connections").json?["connections"] as? [[String: Any]]
        XCTAssertEqual(list?.first?["status"] as? String, "disconnected")
        XCTAssertEqual(list?.first?["reconnecting"] as? Bool, true)
        // A stop cannot reach the server now: refused, and nothing changes.
        let stop = try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id])
        XCTAssertEqual(stop.status, 500, stop.text)
        XCTAssertEqual(stop.json?["error"] as? String, "ssh_error")
        XCTAssertEqual(try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(id)").json.flatMap { $0["viewer"] as? [String: Any] }?["status"] as? String, "failed")
        // The server answers again: the same viewer comes back at the same local URL.
        kill(listener, SIGCONT)
        let back = try waitForViewer(id, status: "running")
        XCTAssertEqual(back?["url"] as? String, "http://localhost:\(localPort)")
        XCTAssertEqual(try httpGet(port: localPort, path: "/api/health").json?["status"] as? String, "ok")
        XCTAssertEqual(try viewerPID(), pid, "no second viewer was started")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: Self.home + "/.cache/rviewer").count, 1)
        XCTAssertEqual(try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id, "cleanup": true], timeout: 30).status, 200)
        XCTAssertNotEqual(kill(pid, 0), 0)
    }

    /// A viewer that was running and ended while its connection was down is reported
    /// as having exited while running once the connection is back (not "while starting").
    func testViewerKilledWhileTheConnectionIsDownIsReportedAsExitedWhileRunning() throws {
        let id = try connect()
        XCTAssertEqual(try startViewer(id).status, 200)
        let pid = try viewerPID()
        let listener = try XCTUnwrap(Self.sshd!.process?.pid)
        kill(listener, SIGSTOP)
        defer { kill(listener, SIGCONT) }
        Self.sshd!.dropSessions()
        _ = try waitForViewer(id, status: "failed")
        kill(-pid, SIGKILL)   // its process group: setsid made the viewer its leader
        kill(listener, SIGCONT)
        let deadline = Date().addingTimeInterval(30)
        var viewer: [String: Any]?
        while Date() < deadline {
            viewer = try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(id)").json?["viewer"] as? [String: Any]
            if (viewer?["error"] as? String ?? "").contains("exited") { break }
            usleep(100_000)
        }
        XCTAssertEqual(viewer?["status"] as? String, "failed")
        let error = viewer?["error"] as? String ?? ""
        XCTAssertTrue(error.hasPrefix("the viewer exited while running"), error)
        XCTAssertFalse(error.contains("while starting"), error)
        let again = try startViewer(id)
        XCTAssertEqual(again.status, 200, "the slot is free for a new one: \(again.text)\n\(daemon.stderr.suffix(6000))")
        XCTAssertEqual(try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id, "cleanup": true], timeout: 30).status, 200)
    }

    func testViewerThatDiesWhileStartingIs500WithItsLog() throws {
        let id = try connect()
        // A storage root the login user cannot create: Runicorn exits at startup.
        let r = try daemon.request("POST", "/api/remote/viewer/start", json: ["connection_id": id, "env_name": "runi", "auto_open": false,
                                                                               "remote_root": "/proc/rviewer-cannot-create/runs"], timeout: 120)
        XCTAssertEqual(r.status, 500, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "viewer_start_failed")
        let message = r.json?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("last log lines"), message)
        XCTAssertTrue(message.contains("rviewer-cannot-create") || message.contains("Error"), message)
        // The slot is free again: a good start now works.
        let status = try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(id)").json?["viewer"] as? [String: Any]
        XCTAssertEqual(status?["status"] as? String, "failed")
        let again = try startViewer(id)
        XCTAssertEqual(again.status, 200, "\(again.text)\n\(daemon.stderr.suffix(6000))")
        _ = try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id])
    }

    func testThreeViewersOnThreeConnectionsAtOnce() throws {
        let ids = try (0..<3).map { _ in try connect() }
        let lock = NSLock()
        var ports: [Int] = []
        let group = DispatchGroup()
        for id in ids {
            group.enter()
            Thread.detachNewThread { [daemon] in
                defer { group.leave() }
                let r = try? daemon!.request("POST", "/api/remote/viewer/start", json: ["connection_id": id, "env_name": "runi", "auto_open": false], timeout: 120)
                if let p = (r?.json?["viewer"] as? [String: Any])?["local_port"] as? Int { lock.lock(); ports.append(p); lock.unlock() }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 150), .success)
        XCTAssertEqual(Set(ports).count, 3, "three viewers, three local ports")
        for port in ports { XCTAssertEqual(try httpGet(port: port, path: "/api/health").json?["status"] as? String, "ok") }
        for id in ids { XCTAssertEqual(try daemon.request("DELETE", "/api/remote/connections/\(id)", timeout: 30).status, 200) }
    }

    /// Process ids of the login user's Runicorn viewers (whatever rviewer recorded).
    func runningViewers() -> [String] {
        ((try? SSHDFixture.run("/bin/sh", ["-c", "pgrep -u \(Self.user) -f 'runicorn viewer' || true"])) ?? "")
            .split(separator: "\n").map(String.init)
    }

    /// A start answered before it finishes: each request gets its answer, and nothing
    /// keeps running on the server or listening here.
    private func stopWhileStarting(byDisconnecting: Bool) throws {
        let id = try connect()
        XCTAssertEqual(runningViewers(), [], "no viewer left by an earlier test")
        var start: RawClient.Response?
        let started = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [daemon] in
            start = try? daemon!.request("POST", "/api/remote/viewer/start", json: ["connection_id": id, "env_name": "runi", "auto_open": false], timeout: 120)
            started.signal()
        }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let viewer = try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(id)").json?["viewer"] as? [String: Any]
            if viewer?["status"] as? String == "starting" { break }
            usleep(5_000)
        }
        let stop = byDisconnecting
            ? try daemon.request("DELETE", "/api/remote/connections/\(id)", timeout: 60)
            : try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id, "cleanup": true], timeout: 60)
        XCTAssertEqual(stop.status, 200, stop.text)
        XCTAssertEqual(started.wait(timeout: .now() + 60), .success, "the start request got its answer")
        let answer = try XCTUnwrap(start)
        XCTAssertEqual(answer.status, 500, answer.text)
        XCTAssertEqual(answer.json?["error"] as? String, "viewer_start_failed")
        XCTAssertTrue((answer.json?["message"] as? String ?? "").contains("stopped"), answer.text)
        XCTAssertEqual(runningViewers(), [], "the stop ended what the start launched")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: Self.home + "/.cache/rviewer"))?.count ?? 0, 0, "cleanup removed its directory")
        if byDisconnecting { return }
        let status = try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(id)").json?["viewer"] as? [String: Any]
        XCTAssertEqual(status?["status"] as? String, "stopped")
        // The slot is free: a new start works.
        XCTAssertEqual(try startViewer(id).status, 200)
        XCTAssertEqual(try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id, "cleanup": true], timeout: 30).status, 200)
    }

    func testStopWhileTheViewerStartsEndsBoth() throws {
        try stopWhileStarting(byDisconnecting: false)
    }

    func testDisconnectWhileTheViewerStartsEndsBoth() throws {
        try stopWhileStarting(byDisconnecting: true)
    }

    func testSIGTERMStopsTheViewersItStarted() throws {
        let ids = try (0..<2).map { _ in try connect() }
        XCTAssertEqual(try startViewer(ids[0]).status, 200)
        let pid = try viewerPID()
        let idle = try connect()   // a connection without a viewer changes nothing
        XCTAssertNotEqual(idle, ids[0])
        XCTAssertEqual(daemon.stop(signal: SIGTERM, timeout: 30), 0)
        XCTAssertNotEqual(kill(pid, 0), 0, "the viewer's process group ended with the daemon")
        XCTAssertEqual(runningViewers(), [])
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: Self.home + "/.cache/rviewer"))?.count ?? 0, 0)
        XCTAssertTrue(daemon.stderr.contains("stopping 1 viewer(s) before exit"), daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains("shutdown complete"))
    }

    /// REST clients firing at once: starts, stops, status, logs, health, ping, detection
    /// and forwards from 8 threads on two connections for 12 s. Every answer is a spec
    /// answer, a connection never has more than one viewer process, nothing is left after
    /// the final stops, and the daemon keeps its one thread.
    func testConcurrentViewerLifecycleRequests() throws {
        let ids = try (0..<2).map { _ in try connect() }
        let lock = NSLock()
        var problems: [String] = []
        var counts: [String: Int] = [:]
        var maxViewers = 0
        var sessions = Set<String>()
        let end = Date().addingTimeInterval(12)
        let group = DispatchGroup()
        for t in 0..<8 {
            group.enter()
            Thread.detachNewThread { [daemon, port = Self.sshd!.port] in
                defer { group.leave() }
                var rng = SystemRandomNumberGenerator()
                while Date() < end {
                    let id = ids[Int.random(in: 0..<2, using: &rng)]
                    let op = ["start", "start", "stop", "status", "logs", "health", "ping", "detect", "forward"][Int.random(in: 0..<9, using: &rng)]
                    let r: RawClient.Response?
                    switch op {
                    case "start": r = try? daemon!.request("POST", "/api/remote/viewer/start", json: ["connection_id": id, "env_name": "runi", "auto_open": false], timeout: 90)
                    case "stop": r = try? daemon!.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id, "cleanup": t % 2 == 0], timeout: 60)
                    case "status": r = try? daemon!.request("GET", "/api/remote/viewer/status?connection_id=\(id)")
                    case "logs": r = try? daemon!.request("GET", "/api/remote/viewer/logs?connection_id=\(id)&lines=5")
                    case "health": r = try? daemon!.request("GET", "/api/remote/health?connection_id=\(id)")
                    case "ping": r = try? daemon!.request("GET", "/api/remote/ping?connection_id=\(id)")
                    case "detect": r = try? daemon!.request("POST", "/api/remote/environments/detect", json: ["connection_id": id])
                    default: r = try? daemon!.request("POST", "/api/remote/forwards", json: ["connection_id": id, "remote_port": port])
                    }
                    let perConnection = Self.viewersPerSSHConnection()
                    lock.lock()
                    for (session, n) in perConnection where n > 1 { problems.append("\(n) viewers at once on the SSH connection \(session)") }
                    maxViewers = max(maxViewers, perConnection.values.max() ?? 0)
                    sessions.formUnion(perConnection.keys)
                    let key = "\(op) \(r?.status ?? 0) \(r?.json?["error"] as? String ?? "")"
                    counts[key, default: 0] += 1
                    switch (op, r?.status ?? 0, r?.json?["error"] as? String) {
                    case (_, 200, nil): break
                    case ("start", 409, "viewer_already_running"), ("start", 500, "viewer_start_failed"): break
                    default: problems.append("\(op): \(r?.status ?? 0) \(r?.text ?? "no answer")")
                    }
                    if r?.status != 200, r?.json?["success"] as? Bool != false || r?.json?["message"] as? String == nil {
                        problems.append("\(op): not the unified error body: \(r?.text ?? "no answer")")
                    }
                    lock.unlock()
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 150), .success)
        XCTAssertEqual(problems, [], "\(counts)")
        XCTAssertEqual(maxViewers, 1, "viewers ran, one per connection at most: \(counts)")
        XCTAssertLessThanOrEqual(sessions.count, 2, "every viewer was launched by one of the two connections: \(sessions)")
        for id in ids { XCTAssertEqual(try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id, "cleanup": true], timeout: 60).status, 200) }
        XCTAssertEqual(runningViewers(), [], "nothing left running: \(counts)")
        XCTAssertLessThanOrEqual(try daemon.threadCount(), 2)
        XCTAssertEqual(try daemon.request("GET", "/api/health").status, 200)
    }

    /// The viewers running now (python -m runicorn viewer, not the launch scripts naming
    /// them), counted by the SSH connection that launched each: its SSH_CONNECTION (the
    /// client's address and port differ per connection) as sshd set it in the process.
    static func viewersPerSSHConnection() -> [String: Int] {
        let script = "for p in $(pgrep -u \(EnvironmentDetectionTests.user) -f '^[^ ]*python[0-9.]* -m runicorn viewer'); do "
            + "e=$(tr '\\0' '\\n' 2>/dev/null < /proc/$p/environ | grep '^SSH_CONNECTION=') && echo \"$e\"; done"
        let out = (try? SSHDFixture.run("/bin/sh", ["-c", script])) ?? ""
        var counts: [String: Int] = [:]
        for line in out.split(separator: "\n") { counts[String(line), default: 0] += 1 }
        return counts
    }

    func testDisconnectWithCleanupStopsTheViewer() throws {
        let id = try connect()
        XCTAssertEqual(try startViewer(id).status, 200)
        let pid = try viewerPID()
        XCTAssertEqual(try daemon.request("DELETE", "/api/remote/connections/\(id)?cleanup_viewer=true", timeout: 30).status, 200)
        XCTAssertNotEqual(kill(pid, 0), 0, "cleanup_viewer stopped the remote viewer")
    }
}
