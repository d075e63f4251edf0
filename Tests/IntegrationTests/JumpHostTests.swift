import Foundation
import Glibc
import XCTest

/// Jump hosts (`ssh -J`) and ProxyCommand against real OpenSSH servers on loopback: a
/// bastion sshd whose log shows the direct-tcpip channel to the target, hops named by
/// field and by `~/.ssh/config` alias, failing hops named in the error, a checksummed
/// transfer through a jump, and the chain rebuilt after the bastion restarts.
final class JumpHostTests: XCTestCase {
    private var target: SSHDFixture!
    private var bastion: SSHDFixture!
    private var daemon: DaemonProcess!

    override func setUpWithError() throws {
        target = try SSHDFixture()
        bastion = try SSHDFixture()
        // The bastion logs in with the agent, which holds the bastion's authorized key.
        try bastion.startAgent(keys: [bastion.ed25519Key])
        daemon = try DaemonProcess(environment: ["HOME": target.home.path, "SSH_AUTH_SOCK": bastion.agentSocket])
    }

    override func tearDown() {
        daemon = nil
        target = nil
        bastion = nil
    }

    private func connect(_ fields: [String: Any]) throws -> RawClient.Response {
        try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": target.port, "username": target.user,
                                                                  "auth_method": "key", "private_key_path": target.ed25519Key].merging(fields) { $1 })
    }

    /// Logins an sshd accepted so far.
    private func logins(_ fixture: SSHDFixture) -> Int { fixture.log.components(separatedBy: "Accepted publickey for").count - 1 }

    /// The bastion's sshd logged a direct-tcpip channel to `port`.
    private func relayed(_ fixture: SSHDFixture, to port: Int) -> Bool {
        // sshd -E ends its lines with CRLF, one Character for Swift: split on the CR-less text.
        fixture.log.replacingOccurrences(of: "\r", with: "").split(separator: "\n").contains { $0.contains("server_request_direct_tcpip") && $0.hasSuffix("target 127.0.0.1 port \(port)") }
    }

    func testOneJumpHostByField() throws {
        let r = try connect(["proxy_jump": "\(bastion.user)@127.0.0.1:\(bastion.port)"])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json?["via"] as? [String], ["127.0.0.1:\(bastion.port)"])
        XCTAssertEqual(r.json?["server_info"].flatMap { $0 as? [String: Any] }?["os"] as? String, "Linux", "a command ran through the jump")
        let id = try XCTUnwrap(r.json?["connection_id"] as? String)
        XCTAssertTrue(relayed(bastion, to: target.port), "the bastion carried the connection to the target")
        XCTAssertEqual(logins(target), 1)
        XCTAssertEqual(logins(bastion), 1)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200)
        let list = try daemon.request("GET", "/api/remote/connections").json?["connections"] as? [[String: Any]]
        XCTAssertEqual(list?.first?["via"] as? [String], ["127.0.0.1:\(bastion.port)"])
        // Both host keys were checked and recorded.
        let known = try String(contentsOfFile: daemon.stateDirectory + "/known_hosts", encoding: .utf8)
        XCTAssertTrue(known.contains("[127.0.0.1]:\(bastion.port) ") && known.contains("[127.0.0.1]:\(target.port) "), known)
        // A direct connection says so.
        XCTAssertEqual(try connect([:]).json?["via"] as? [String], [])
        XCTAssertEqual(try daemon.request("DELETE", "/api/remote/connections/\(id)").status, 200)
    }

    func testTwoJumpHostsByAliasFromSSHConfig() throws {
        let second = try SSHDFixture()
        try FileManager.default.createDirectory(at: target.home.appendingPathComponent(".ssh"), withIntermediateDirectories: true)
        try """
            Host hop1
              HostName 127.0.0.1
              Port \(bastion.port)
              User \(bastion.user)
            Host hop2
              HostName 127.0.0.1
              Port \(second.port)
              IdentityFile \(second.ed25519Key)
            Host gpu
              HostName 127.0.0.1
              Port \(target.port)
              ProxyJump hop1,hop2
              IdentityFile \(target.ed25519Key)

            """.write(to: target.home.appendingPathComponent(".ssh/config"), atomically: true, encoding: .utf8)
        daemon = try DaemonProcess(environment: ["HOME": target.home.path, "SSH_AUTH_SOCK": bastion.agentSocket])
        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "gpu", "username": target.user, "auth_method": "key"])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json?["via"] as? [String], ["127.0.0.1:\(bastion.port)", "127.0.0.1:\(second.port)"])
        XCTAssertTrue(relayed(bastion, to: second.port), "hop1 carried hop2")
        XCTAssertTrue(relayed(second, to: target.port), "hop2 carried the target")
        // `proxy_jump: none` turns the alias's jump off (a direct connection to the same port).
        let direct = try daemon.request("POST", "/api/remote/connect", json: ["host": "gpu", "username": target.user, "auth_method": "key",
                                                                               "proxy_jump": "none"])
        XCTAssertEqual(direct.status, 200, direct.text)
        XCTAssertEqual(direct.json?["via"] as? [String], [])
    }

    func testFailingHopsAreNamedWithTheirStatus() throws {
        // The bastion refuses the agent's key: 401, naming the hop.
        let stranger = try SSHDFixture()
        let refused = try connect(["proxy_jump": "127.0.0.1:\(stranger.port)"])
        XCTAssertEqual(refused.status, 401, refused.text)
        XCTAssertEqual(refused.json?["error"] as? String, "authentication_failed")
        XCTAssertTrue((refused.json?["message"] as? String ?? "").hasPrefix("jump host 127.0.0.1:\(stranger.port): "), refused.text)
        // Nothing listens where the hop should be: 500, naming it.
        let closed = try SSHDFixture.freePort()
        let down = try connect(["proxy_jump": "127.0.0.1:\(closed)"])
        XCTAssertEqual(down.status, 500, down.text)
        XCTAssertTrue((down.json?["message"] as? String ?? "").hasPrefix("jump host 127.0.0.1:\(closed): "), down.text)
        // The hop is fine but cannot reach the target port.
        let nowhere = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": closed, "username": target.user,
                                                                                "auth_method": "key", "private_key_path": target.ed25519Key,
                                                                                "proxy_jump": "127.0.0.1:\(bastion.port)"])
        XCTAssertEqual(nowhere.status, 500, nowhere.text)
        XCTAssertTrue((nowhere.json?["message"] as? String ?? "").contains("jump host 127.0.0.1:\(bastion.port) cannot reach the next host"), nowhere.text)
        // Malformed and hostile hops are refused before anything runs.
        for bad in ["a:b", "-oProxyCommand=x", "user@:22", "h:70000"] {
            let r = try connect(["proxy_jump": bad])
            XCTAssertEqual(r.status, 400, "\(bad): \(r.text)")
            XCTAssertEqual(r.json?["error"] as? String, "invalid_parameters")
        }
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").json?["total"] as? Int, 0)
    }

    /// A connection through the bastion with a forward to an echo server; its local port.
    private func jumpedEchoForward() throws -> (port: Int, echo: EchoServer) {
        let r = try connect(["proxy_jump": "127.0.0.1:\(bastion.port)"])
        let id = try XCTUnwrap(r.json?["connection_id"] as? String, r.text)
        let echo = try EchoServer()
        let f = try daemon.request("POST", "/api/remote/forwards", json: ["connection_id": id, "remote_host": "127.0.0.1", "remote_port": echo.port])
        return (try XCTUnwrap(f.json?["local_port"] as? Int, f.text), echo)
    }

    func testChecksummedTransferThroughAJump() throws {
        let (port, echo) = try jumpedEchoForward()
        defer { _ = echo }
        let (sent, received) = ForwardTests.roundTrip(port: port, bytes: 256 << 20, seed: 11)
        XCTAssertEqual(received.count, 256 << 20, "256 MiB came back")
        XCTAssertEqual(received.value, sent.value)
        XCTAssertTrue(relayed(bastion, to: target.port))
    }

    /// Clients queued behind an open that does not end make the forward log in again
    /// (extra sessions): those go through the jump host too (the bastion carries each,
    /// the target accepts each).
    func testExtraSessionsGoThroughTheJump() throws {
        let r = try connect(["proxy_jump": "127.0.0.1:\(bastion.port)"])
        let id = try XCTUnwrap(r.json?["connection_id"] as? String, r.text)
        let echo = try EchoServer()
        let stuck = ForwardTests.StuckTarget()
        defer { stuck.close() }
        func forward(_ remotePort: Int) throws -> Int {
            let f = try daemon.request("POST", "/api/remote/forwards", json: ["connection_id": id, "remote_host": "127.0.0.1", "remote_port": remotePort])
            return try XCTUnwrap(f.json?["local_port"] as? Int, f.text)
        }
        let port = try forward(echo.port)
        // One client of a forward to the stuck target holds the session's open slot.
        let blocker = ForwardTests.connectTCP(try forward(stuck.port))
        XCTAssertGreaterThanOrEqual(blocker, 0)
        defer { close(blocker) }
        Thread.sleep(forTimeInterval: 0.2)
        let group = DispatchGroup()
        let lock = NSLock()
        var ok = 0
        for i in 0..<40 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let (sent, received) = ForwardTests.roundTrip(port: port, bytes: 4096, seed: UInt64(i + 1))
                if received.count == 4096 && received.value == sent.value { lock.lock(); ok += 1; lock.unlock() }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success)
        XCTAssertEqual(ok, 40, "every client got its bytes back while the first session's open stayed stuck")
        let sessions = try XCTUnwrap((try daemon.request("GET", "/api/remote/forwards").json?["forwards"] as? [[String: Any]])?
            .first { $0["local_port"] as? Int == port }?["ssh_sessions"] as? Int)
        let targetLogins = logins(target), relays = bastion.log.components(separatedBy: "target 127.0.0.1 port \(target.port)").count - 1
        XCTAssertGreaterThanOrEqual(targetLogins, 2, "an extra session logged in to the target (\(sessions) sessions now)")
        XCTAssertEqual(relays, targetLogins, "and each of the target's logins came through the bastion")
        _ = echo
    }

    func testReconnectRebuildsTheChainAfterTheBastionRestarts() throws {
        let r = try connect(["proxy_jump": "127.0.0.1:\(bastion.port)"])
        let id = try XCTUnwrap(r.json?["connection_id"] as? String, r.text)
        let before = logins(bastion)
        bastion.stop()
        XCTAssertEqual(try daemon.waitForFirstConnectionStatus("disconnected", timeout: 15), "disconnected")
        try bastion.start()
        XCTAssertEqual(try daemon.waitForFirstConnectionStatus("connected", timeout: 30), "connected")
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200, "the same connection is back")
        XCTAssertEqual(logins(bastion), before + 1, "the restarted bastion saw a new login")
        XCTAssertTrue(relayed(bastion, to: target.port))
    }

    /// The daemon reads `Include`d files (relative to ~/.ssh, wildcards expanded).
    func testAliasFromAnIncludedFile() throws {
        let ssh = target.home.appendingPathComponent(".ssh")
        try FileManager.default.createDirectory(at: ssh.appendingPathComponent("conf.d"), withIntermediateDirectories: true)
        try "Include conf.d/*.conf\n".write(to: ssh.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        try "Host included\n  HostName 127.0.0.1\n  Port \(target.port)\n  IdentityFile \(target.ed25519Key)\n  ConnectTimeout 5\n"
            .write(to: ssh.appendingPathComponent("conf.d/gpu.conf"), atomically: true, encoding: .utf8)
        daemon = try DaemonProcess(environment: ["HOME": target.home.path])
        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "included", "username": target.user, "auth_method": "key"])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json?["port"] as? Int, target.port)
    }

    func testIdentitiesOnlyOffersJustTheConfiguredKey() throws {
        // The agent holds an unauthorized key and the authorized one.
        try bastion.startAgent(keys: [target.strangerKey, target.ed25519Key])
        try FileManager.default.createDirectory(at: target.home.appendingPathComponent(".ssh"), withIntermediateDirectories: true)
        try """
            Host strict
              HostName 127.0.0.1
              Port \(target.port)
              IdentitiesOnly yes
              IdentityFile \(target.strangerKey)
            Host right
              HostName 127.0.0.1
              Port \(target.port)
              IdentitiesOnly yes
              IdentityFile \(target.ed25519Key)

            """.write(to: target.home.appendingPathComponent(".ssh/config"), atomically: true, encoding: .utf8)
        daemon = try DaemonProcess(environment: ["HOME": target.home.path, "SSH_AUTH_SOCK": bastion.agentSocket])
        let attempts = { self.target.log.components(separatedBy: "method publickey").count - 1 }
        let before = attempts()
        let strict = try daemon.request("POST", "/api/remote/connect", json: ["host": "strict", "username": target.user, "auth_method": "agent"])
        XCTAssertEqual(strict.status, 401, "only the configured (unauthorized) key was offered: \(strict.text)")
        XCTAssertEqual(attempts() - before, 1, "one publickey request: the other identity was not offered")
        let right = try daemon.request("POST", "/api/remote/connect", json: ["host": "right", "username": target.user, "auth_method": "agent"])
        XCTAssertEqual(right.status, 200, right.text)
    }

    func testProxyCommandThatNeverSpeaksSSHTimesOutNamingIt() throws {
        try FileManager.default.createDirectory(at: target.home.appendingPathComponent(".ssh"), withIntermediateDirectories: true)
        try "Host mute\n  ProxyCommand sleep 30\n".write(to: target.home.appendingPathComponent(".ssh/config"), atomically: true, encoding: .utf8)
        daemon = try DaemonProcess(environment: ["HOME": target.home.path])
        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "mute", "username": target.user, "auth_method": "key",
                                                                          "private_key_path": target.ed25519Key, "timeout": 2])
        XCTAssertEqual(r.status, 408, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "connection_timeout")
        XCTAssertTrue((r.json?["message"] as? String ?? "").contains("ProxyCommand 'sleep 30'"), r.text)
        usleep(300_000)
        XCTAssertEqual((try? SSHDFixture.run("/bin/sh", ["-c", "pgrep -x -f 'sleep 30' || true"])) ?? "?", "", "the command was ended with the attempt")
    }

    func testProxyCommandFromSSHConfig() throws {
        try FileManager.default.createDirectory(at: target.home.appendingPathComponent(".ssh"), withIntermediateDirectories: true)
        let ssh = "ssh -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i \(bastion.ed25519Key)"
        try """
            Host viacmd
              HostName 127.0.0.1
              Port \(target.port)
              ProxyCommand \(ssh) -p \(bastion.port) -W %h:%p \(bastion.user)@127.0.0.1
            Host broken
              HostName 127.0.0.1
              ProxyCommand sh -c 'echo proxy-said-no >&2; exit 3'

            """.write(to: target.home.appendingPathComponent(".ssh/config"), atomically: true, encoding: .utf8)
        daemon = try DaemonProcess(environment: ["HOME": target.home.path])
        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "viacmd", "username": target.user, "auth_method": "key",
                                                                          "private_key_path": target.ed25519Key])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json?["via"] as? [String], [])
        XCTAssertTrue(relayed(bastion, to: target.port), "ssh -W went through the bastion")
        let id = try XCTUnwrap(r.json?["connection_id"] as? String)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200)
        let broken = try daemon.request("POST", "/api/remote/connect", json: ["host": "broken", "username": target.user, "auth_method": "key",
                                                                               "private_key_path": target.ed25519Key])
        XCTAssertEqual(broken.status, 500, broken.text)
        XCTAssertTrue((broken.json?["message"] as? String ?? "").contains("ProxyCommand 'sh -c"), broken.text)
        XCTAssertTrue(daemon.stderr.contains("proxy-said-no"), "the command's stderr is in the daemon's log")
        // Disconnecting ends the command.
        XCTAssertEqual(try daemon.request("DELETE", "/api/remote/connections/\(id)").status, 200)
        let deadline = Date().addingTimeInterval(5)
        var left = ""
        repeat {
            left = (try? SSHDFixture.run("/bin/sh", ["-c", "pgrep -f -- '[-]W 127.0.0.1:\(target.port)' || true"])) ?? ""
            if left.isEmpty { break }
            usleep(50_000)
        } while Date() < deadline
        XCTAssertEqual(left, "", "the ProxyCommand ended with its connection")
    }
}

/// The real Runicorn viewer started and served through a jump host, its tunnel's
/// browser-sized bursts included (extra sessions go through the jump too).
extension EnvironmentDetectionTests {
    func testViewerThroughAJumpHost() throws {
        let bastion = try SSHDFixture()
        try bastion.startAgent(keys: [bastion.ed25519Key])
        daemon = try DaemonProcess(environment: ["HOME": Self.sshd!.home.path, "SSH_AUTH_SOCK": bastion.agentSocket])
        let r = try daemon.request("POST", "/api/remote/connect", json: [
            "host": "127.0.0.1", "port": Self.sshd!.port, "username": Self.user, "auth_method": "key",
            "private_key_path": Self.sshd!.ed25519Key, "proxy_jump": "127.0.0.1:\(bastion.port)"])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json?["via"] as? [String], ["127.0.0.1:\(bastion.port)"])
        let id = try XCTUnwrap(r.json?["connection_id"] as? String)
        let start = try startViewer(id)
        XCTAssertEqual(start.status, 200, start.text)
        let port = try XCTUnwrap((start.json?["viewer"] as? [String: Any])?["local_port"] as? Int)
        XCTAssertEqual(try httpGet(port: port, path: "/api/health").json?["status"] as? String, "ok")
        // A browser's burst of connections at once, all answered.
        let clients = try (0..<12).map { _ in try RawClient(port: port, timeout: 20) }
        for c in clients { try c.send("GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n") }
        for c in clients { XCTAssertEqual(try c.readResponse().status, 200) }
        let relayed = bastion.log.replacingOccurrences(of: "\r", with: "").split(separator: "\n")
            .filter { $0.contains("server_request_direct_tcpip") && $0.hasSuffix("target 127.0.0.1 port \(Self.sshd!.port)") }.count
        XCTAssertGreaterThanOrEqual(relayed, 1, "the bastion carried the SSH connection(s) to the server")
        XCTAssertEqual(try daemon.request("POST", "/api/remote/viewer/stop", json: ["connection_id": id, "cleanup": true], timeout: 30).status, 200)
    }
}

/// `GET /api/remote/hosts`: the servers ~/.ssh/config names, patterns left out.
final class HostsEndpointTests: XCTestCase {
    func testListsAliasesAsSSHResolvesThem() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("rviewer-hosts-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: home.appendingPathComponent(".ssh"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        try """
            Host gpu gpu-*
              HostName gpu.cluster.example
              ProxyJump login
            Host login
              HostName login.cluster.example
              User alice
              Port 2222
              IdentityFile ~/.ssh/id_login
            Host !bad *
              User fallback

            """.write(to: home.appendingPathComponent(".ssh/config"), atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(environment: ["HOME": home.path])
        let r = try daemon.request("GET", "/api/remote/hosts")
        XCTAssertEqual(r.status, 200, r.text)
        let hosts = try XCTUnwrap(r.json?["hosts"] as? [[String: Any]])
        XCTAssertEqual(r.json?["total"] as? Int, 2)
        XCTAssertEqual(hosts.map { $0["alias"] as? String }, ["gpu", "login"], "patterns are left out")
        XCTAssertEqual(hosts[0]["hostname"] as? String, "gpu.cluster.example")
        XCTAssertEqual(hosts[0]["proxy_jump"] as? String, "login")
        XCTAssertEqual(hosts[0]["user"] as? String, "fallback", "from the matching `Host *` block")
        XCTAssertTrue(hosts[0]["port"] is NSNull && hosts[0]["identity_file"] is NSNull)
        XCTAssertEqual(hosts[1]["user"] as? String, "alice")
        XCTAssertEqual(hosts[1]["port"] as? Int, 2222)
        XCTAssertEqual(hosts[1]["identity_file"] as? String, home.path + "/.ssh/id_login")
        XCTAssertTrue(hosts[1]["proxy_jump"] is NSNull)
        // No ~/.ssh/config: an empty list.
        let bare = try DaemonProcess(environment: ["HOME": FileManager.default.temporaryDirectory.path + "/rviewer-none-\(UUID().uuidString.prefix(6))"])
        XCTAssertEqual(try bare.request("GET", "/api/remote/hosts").json?["total"] as? Int, 0)
    }
}

/// `GET /api/openapi.json`: a valid OpenAPI 3.1 document (openapi-spec-validator), every
/// route of the daemon named in it (the daemon logs any it misses), and every path and
/// method it names served (no 404 not_found / 405 from the router).
final class OpenAPIDocumentTests: XCTestCase {
    func testDocumentIsValidAndMatchesTheRoutes() throws {
        let daemon = try DaemonProcess()
        let r = try daemon.request("GET", "/api/openapi.json")
        XCTAssertEqual(r.status, 200)
        let doc = try XCTUnwrap(r.json)
        XCTAssertEqual(doc["openapi"] as? String, "3.1.0")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rviewer-openapi-\(UUID().uuidString.prefix(8)).json")
        try r.text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let out = try SSHDFixture.run("/usr/bin/env", ["python3", "-c",
            "import json,sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')", file.path])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "valid")
        XCTAssertFalse(daemon.stderr.contains("is not in the OpenAPI document"), daemon.stderr)
        let paths = try XCTUnwrap(doc["paths"] as? [String: [String: Any]])
        XCTAssertGreaterThanOrEqual(paths.count, 20)
        for (path, ops) in paths where path != "/api/events" {   // a stream has no end: SSETests
            for method in ops.keys {
                let concrete = path.replacingOccurrences(of: "{id}", with: "x_00000000").replacingOccurrences(of: "{name}", with: "app.js")
                let answer = try daemon.request(method.uppercased(), concrete, json: method == "get" || method == "delete" ? nil : [:])
                XCTAssertNotEqual(answer.status, 405, "\(method) \(path)")
                XCTAssertNotEqual(answer.json?["error"] as? String, "not_found", "\(method) \(path) is routed")
                let documented = Set((ops[method] as? [String: Any])?["responses"].flatMap { $0 as? [String: Any] }?.keys.map { $0 } ?? [])
                XCTAssertTrue(documented.contains(String(answer.status)), "\(method) \(path) answered \(answer.status), which the document does not list")
            }
        }
    }
}
