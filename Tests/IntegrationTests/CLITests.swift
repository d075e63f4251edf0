import Foundation
import Glibc
import XCTest

/// The CLI (`rviewer open/ls/envs/logs/stop/forward/disconnect`) run as a user runs it,
/// against this class's daemon, sshd and the real Runicorn.
extension EnvironmentDetectionTests {
    struct CLIRun {
        let status: Int32?
        let stdout: String
        let stderr: String
        var lastLine: String { stdout.split(separator: "\n").last.map(String.init) ?? "" }
    }

    /// Runs `rviewer ARGS --api <this test's daemon>` and waits for it.
    func cli(_ args: [String], api: String? = nil, timeout: TimeInterval = 120) throws -> CLIRun {
        let dir = daemon.directory.path
        let out = dir + "/cli.out", err = dir + "/cli.err"
        let run = try ChildProcess(DaemonProcess.binary.path, args + ["--api", api ?? "http://127.0.0.1:\(daemon.port)"],
                                   environment: ["PATH": "/usr/bin:/bin", "HOME": Self.sshd!.home.path], stdout: out, stderr: err)
        let status = run.wait(timeout: timeout)
        if status == nil { run.kill9() }
        return CLIRun(status: status, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    func testCLIOpensReusesListsLogsForwardsStopsAndDisconnects() throws {
        let host = "\(Self.user)@127.0.0.1:\(Self.sshd!.port)"
        let login = ["-i", Self.sshd!.ed25519Key]

        let first = try cli(["open", host, "--no-browser"] + login)
        XCTAssertEqual(first.status, 0, first.stderr)
        let url = first.lastLine
        XCTAssertTrue(url.hasPrefix("http://localhost:"), first.stdout)
        let port = try XCTUnwrap(Int(url.split(separator: ":").last ?? ""))
        XCTAssertEqual(try httpGet(port: port, path: "/api/health").json?["status"] as? String, "ok", "the URL serves Runicorn")
        for step in ["connected to", "environment(s) found", "viewer started in runi"] {
            XCTAssertTrue(first.stderr.contains(step), "progress names '\(step)': \(first.stderr)")
        }
        XCTAssertFalse(first.stdout.contains("connected to"), "progress stays off stdout")

        let second = try cli(["open", host, "--no-browser", "--json"] + login)
        XCTAssertEqual(second.status, 0, second.stderr)
        let reuse = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(second.lastLine.utf8)) as? [String: Any])
        XCTAssertEqual(reuse["url"] as? String, url, "the second open finds the same viewer")
        XCTAssertEqual(reuse["reused_connection"] as? Bool, true)
        XCTAssertEqual(reuse["reused_viewer"] as? Bool, true)
        XCTAssertEqual(reuse["env_name"] as? String, "runi")
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").json?["total"] as? Int, 1, "one connection, reused")

        let ls = try cli(["ls", "--json"])
        XCTAssertEqual(ls.status, 0, ls.stderr)
        let listed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(ls.stdout.utf8)) as? [String: Any])
        let entries = try XCTUnwrap(listed["connections"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual((entries.first?["viewer"] as? [String: Any])?["url"] as? String, url)
        let human = try cli(["ls"])
        XCTAssertTrue(human.stdout.contains("viewer running \(url)"), human.stdout)

        let envs = try cli(["envs", host, "--json"])
        XCTAssertEqual(envs.status, 0, envs.stderr)
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(envs.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(list.first { $0["name"] as? String == "runi" }?["runicorn_version"] as? String, Self.runicornVersion)

        let logs = try cli(["logs", host, "-n", "5"])
        XCTAssertEqual(logs.status, 0, logs.stderr)
        let lines = logs.stdout.split(separator: "\n")
        XCTAssertTrue((1...5).contains(lines.count), logs.stdout)
        XCTAssertTrue(logs.stdout.contains("Uvicorn running") || logs.stdout.contains("Application startup"), logs.stdout)

        let forward = try cli(["forward", host, "\(Self.sshd!.port)"])
        XCTAssertEqual(forward.status, 0, forward.stderr)
        XCTAssertTrue(forward.stderr.contains("Forwarding from 127.0.0.1:"), forward.stderr)
        let forwardPort = try XCTUnwrap(Int(forward.lastLine.split(separator: ":").last ?? ""))
        XCTAssertTrue(try sshBanner(port: forwardPort).hasPrefix("SSH-2.0-"), "the forward reaches the server's port")
        let ahead = try cli(["forward", host, "\(Self.sshd!.port)", "--channels-ahead", "2", "--json"])
        XCTAssertEqual(ahead.status, 0, ahead.stderr)
        let aheadPort = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(ahead.stdout.utf8)) as? [String: Any])?["local_port"] as? Int)
        let forwards = try daemon.request("GET", "/api/remote/forwards").json?["forwards"] as? [[String: Any]] ?? []
        XCTAssertEqual(forwards.first { $0["local_port"] as? Int == aheadPort }?["channels_ahead"] as? Int, 2)

        let stop = try cli(["stop", host])
        XCTAssertEqual(stop.status, 0, stop.stderr)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/viewer/status?connection_id=\(entries.first?["connection_id"] as? String ?? "")")
            .json.flatMap { ($0["viewer"] as? [String: Any])?["status"] as? String }, "stopped")

        let disconnect = try cli(["disconnect", host])
        XCTAssertEqual(disconnect.status, 0, disconnect.stderr)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").json?["total"] as? Int, 0)
    }

    func testCLIErrorsCarryTheAPIMessageAndTheirExitStatus() throws {
        let host = "\(Self.user)@127.0.0.1:\(Self.sshd!.port)"
        let none = try cli(["logs", host])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("rviewer holds no connection to \(host)"), none.stderr)

        let badKey = try cli(["open", host, "--no-browser", "-i", Self.sshd!.dir.appendingPathComponent("missing-key").path])
        XCTAssertEqual(badKey.status, 1, badKey.stderr)
        XCTAssertTrue(badKey.stderr.hasPrefix("rviewer: Private key file "), badKey.stderr)
        XCTAssertTrue(badKey.stderr.hasSuffix("does not exist (invalid_parameters)\n"), badKey.stderr)
        let stranger = daemon.directory.appendingPathComponent("stranger").path   // a key the server does not know
        try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", stranger])
        let refused = try cli(["open", host, "--no-browser", "-i", stranger])
        XCTAssertEqual(refused.status, 4, "a refused login exits 4: \(refused.stderr)")
        XCTAssertTrue(refused.stderr.contains("(authentication_failed)"), refused.stderr)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").json?["total"] as? Int, 0)

        let env = try cli(["open", host, "--no-browser", "--env", "no-such-env", "-i", Self.sshd!.ed25519Key])
        XCTAssertEqual(env.status, 1)
        XCTAssertTrue(env.stderr.contains("no environment 'no-such-env'"), env.stderr)
        XCTAssertEqual(env.stdout, "", "nothing on stdout when it fails")


        let down = try cli(["ls"], api: "http://127.0.0.1:1")
        XCTAssertEqual(down.status, 3)
        XCTAssertTrue(down.stderr.contains("does not answer"), down.stderr)

        let usage = try cli(["logs", host, "-n", "0"])
        XCTAssertEqual(usage.status, 64)
    }

    /// The first line a TCP server at `port` sends (an SSH server's banner).
    func sshBanner(port: Int) throws -> String {
        let fd = ForwardTests.connectTCP(port)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }
}
