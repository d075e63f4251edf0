import Foundation
import Glibc
import XCTest

/// Connection endpoints against a real sshd on loopback.
final class SSHConnectionTests: XCTestCase {
    private var sshd: SSHDFixture!
    private var daemon: DaemonProcess!

    override func setUpWithError() throws {
        sshd = try SSHDFixture()
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
    }

    override func tearDown() {
        if let daemon {
            // No secret may ever reach a log line.
            let log = daemon.stderr
            if let pw = sshd?.password { XCTAssertFalse(log.contains(pw), "password leaked into the log") }
            if let pp = sshd?.passphrase { XCTAssertFalse(log.contains(pp), "passphrase leaked into the log") }
        }
        daemon = nil
        sshd = nil
    }

    private func connect(_ extra: [String: Any]) throws -> RawClient.Response {
        var body: [String: Any] = ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user, "timeout": 20]
        for (k, v) in extra { body[k] = v }
        return try daemon.request("POST", "/api/remote/connect", json: body)
    }

    private func keyConnect() throws -> String {
        let r = try connect(["auth_method": "key", "private_key_path": sshd.ed25519Key])
        XCTAssertEqual(r.status, 200, r.text)
        return try XCTUnwrap(r.json?["connection_id"] as? String)
    }

    func testKeyConnectListPingHealthDisconnect() throws {
        let r = try connect(["auth_method": "key", "private_key_path": sshd.ed25519Key])
        XCTAssertEqual(r.status, 200, r.text)
        let json = try XCTUnwrap(r.json)
        let id = try XCTUnwrap(json["connection_id"] as? String)
        XCTAssertNotNil(id.range(of: "^conn_[0-9a-f]{8}$", options: .regularExpression), id)
        XCTAssertEqual(json["host"] as? String, "127.0.0.1")
        XCTAssertEqual(json["port"] as? Int, sshd.port)
        XCTAssertEqual(json["username"] as? String, sshd.user)
        XCTAssertEqual(json["status"] as? String, "connected")
        XCTAssertNotNil((json["created_at"] as? String)?.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"#, options: .regularExpression))
        // server_info: the "remote" is this machine, so compare with what it says itself.
        let info = try XCTUnwrap(json["server_info"] as? [String: Any])
        var uts = utsname()
        uname(&uts)
        XCTAssertEqual(info["os"] as? String, withUnsafePointer(to: &uts.sysname) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) })
        XCTAssertEqual(info["hostname"] as? String, withUnsafePointer(to: &uts.nodename) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) })
        let py = try SSHDFixture.run("/bin/sh", ["-c", "python3 -V"]).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(info["python_version"] as? String, String(py.dropFirst("Python ".count)))

        let list = try daemon.request("GET", "/api/remote/connections").json
        XCTAssertEqual(list?["total"] as? Int, 1)
        let entry = try XCTUnwrap((list?["connections"] as? [[String: Any]])?.first)
        XCTAssertEqual(entry["connection_id"] as? String, id)
        XCTAssertEqual(entry["status"] as? String, "connected")
        XCTAssertTrue(entry["viewer"] is NSNull)

        let ping = try daemon.request("GET", "/api/remote/ping?connection_id=\(id)")
        XCTAssertEqual(ping.status, 200, ping.text)
        let latency = try XCTUnwrap(ping.json?["latency_ms"] as? Double)
        XCTAssertGreaterThan(latency, 0)
        XCTAssertNotNil(ping.json?["timestamp"] as? String)

        // A burst of pings sent all at once: every one answered with a real measurement,
        // sharing the round trip in flight: far fewer channel opens than pings.
        let opensBefore = sshd.sessionChannelOpens
        let burst = try (0..<40).map { _ in try daemon.client() }
        for client in burst {
            try client.send("GET /api/remote/ping?connection_id=\(id) HTTP/1.1\r\nHost: localhost\r\n\r\n")
        }
        let latencies = try burst.compactMap { client -> Double? in
            let r = try client.readResponse()
            XCTAssertEqual(r.status, 200, r.text)
            return r.json?["latency_ms"] as? Double
        }
        XCTAssertEqual(latencies.count, 40)
        XCTAssertTrue(latencies.allSatisfy { $0 > 0 })
        // Opens still in flight after the answers are counted too: wait until sshd's log
        // stops growing (a second without a new open).
        var opens = sshd.sessionChannelOpens - opensBefore
        for _ in 0..<20 {
            Thread.sleep(forTimeInterval: 1)
            let now = sshd.sessionChannelOpens - opensBefore
            if now == opens { break }
            opens = now
        }
        XCTAssertGreaterThanOrEqual(opens, 1, "a ping is a real round trip")
        XCTAssertLessThanOrEqual(opens, 20, "40 pings at once share the opens in flight (saw \(opens))")
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200)

        let health = try daemon.request("GET", "/api/remote/health?connection_id=\(id)").json
        XCTAssertEqual(health?["health"] as? String, "healthy")
        XCTAssertEqual(health?["checks"] as? [String: String], ["ssh_connection": "pass", "viewer_process": "skip", "tunnel_active": "skip"])

        let del = try daemon.request("DELETE", "/api/remote/connections/\(id)?cleanup_viewer=true")
        XCTAssertEqual(del.status, 200)
        XCTAssertEqual(del.json?["connection_id"] as? String, id)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").json?["total"] as? Int, 0)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 404)
        XCTAssertEqual(try daemon.request("DELETE", "/api/remote/connections/\(id)").json?["error"] as? String, "connection_not_found")
    }

    func testPipelinedAndAbandonedAsyncRequests() throws {
        let id = try keyConnect()
        // Three pings in one write: each is answered after an SSH round trip, in order.
        let client = try daemon.client()
        let one = "GET /api/remote/ping?connection_id=\(id) HTTP/1.1\r\nHost: localhost\r\n\r\n"
        try client.send(one + one + one)
        for _ in 0..<3 {
            let r = try client.readResponse()
            XCTAssertEqual(r.status, 200, r.text)
            XCTAssertNotNil(r.json?["latency_ms"] as? Double)
        }
        // More bytes while a ping is pending, then more after it: all answered in order.
        try client.send(one + "GET /api/remote/connections HTTP/1.1\r\nHost: localhost\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.05)
        try client.send(one)
        XCTAssertEqual(try client.readResponse().json?["latency_ms"].map { _ in true }, true)
        XCTAssertEqual(try client.readResponse().json?["total"] as? Int, 1)
        XCTAssertEqual(try client.readResponse().status, 200)
        // Clients that leave while their ping is pending do not disturb the others.
        for _ in 0..<10 {
            let gone = try daemon.client()
            try gone.send(one)
        }
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200)
        XCTAssertEqual(try client.get("/api/remote/connections").status, 200, "the kept-alive client is still served")
    }

    func testCommandsRunOnAChannelOpenedAhead() throws {
        let id = try keyConnect()
        // A ping waits for the warm channel's open (one open at a time, in order), so
        // after it the log holds every open so far.
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200)
        let before = sshd.log.count
        let opensBefore = sshd.sessionChannelOpens
        let r = try daemon.request("POST", "/api/remote/environments/detect", json: ["connection_id": id])
        XCTAssertEqual(r.status, 200, r.text)
        // The detection's exec went out on the channel already open: sshd starts the
        // command before it sees the next open (the replacement warm channel).
        let during = String(sshd.log.dropFirst(before))
        let exec = try XCTUnwrap(during.range(of: "Starting session: command"), during)
        if let open = during.range(of: "server_input_channel_open: ctype session") {
            XCTAssertLessThan(exec.lowerBound, open.lowerBound, "the command waited for a channel open:\n\(during)")
        }
        XCTAssertLessThanOrEqual(sshd.sessionChannelOpens - opensBefore, 1, "one replacement open at most")
        // Several commands in a row each find a channel ready or take the next one.
        for _ in 0..<3 {
            XCTAssertEqual(try daemon.request("POST", "/api/remote/environments/detect", json: ["connection_id": id]).status, 200)
        }
    }

    /// The cipher sshd's log names for the newest login.
    private func negotiatedCipher() -> String? {
        sshd.log.components(separatedBy: "\n").last { $0.contains("kex: client->server cipher:") }?
            .components(separatedBy: "cipher: ").last?.split(separator: " ").first.map(String.init)
    }

    func testAESCTRIsOfferedFirstAndServersWithoutItStillConnect() throws {
        _ = try keyConnect()
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .components(separatedBy: "\n").first { $0.hasPrefix("flags") || $0.hasPrefix("Features") } ?? ""
        if flags.split(separator: " ").contains("aes") {
            XCTAssertEqual(negotiatedCipher(), "aes128-ctr", "CTR goes first on a CPU with AES instructions")
        }
        // A server that has no CTR mode: the rest of libssh2's list is still offered.
        sshd = nil
        sshd = try SSHDFixture(extraConfig: ["Ciphers aes128-gcm@openssh.com,aes256-cbc"])
        let id = try keyConnect()
        XCTAssertTrue(["aes128-gcm@openssh.com", "aes256-cbc"].contains(negotiatedCipher() ?? "none"), negotiatedCipher() ?? "none")
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200)
    }

    /// MaxSessions 1 (the session channel of a ping still counts on the server while its
    /// close is in flight): back-to-back requests work, and the server did refuse some
    /// opens (so the retry path ran).
    func testServerAllowingOneSessionChannel() throws {
        sshd = nil
        sshd = try SSHDFixture(extraConfig: ["MaxSessions 1"])
        let id = try keyConnect()
        defer { XCTAssertTrue(sshd.log.contains("no more sessions"), "the limit was in force") }
        for _ in 0..<3 {
            let ping = try daemon.request("GET", "/api/remote/ping?connection_id=\(id)")
            XCTAssertEqual(ping.status, 200, ping.text)
            let ping2 = try daemon.request("GET", "/api/remote/ping?connection_id=\(id)")
            XCTAssertEqual(ping2.status, 200, ping2.text)
            let health = try daemon.request("GET", "/api/remote/health?connection_id=\(id)")
            XCTAssertEqual(health.json?["health"] as? String, "healthy", health.text)
            let detect = try daemon.request("POST", "/api/remote/environments/detect", json: ["connection_id": id])
            XCTAssertEqual(detect.status, 200, detect.text)
        }
    }

    func testEncryptedKeyNeedsItsPassphrase() throws {
        let ok = try connect(["auth_method": "key", "private_key_path": sshd.encryptedECDSAKey, "passphrase": sshd.passphrase])
        XCTAssertEqual(ok.status, 200, ok.text)
        let wrong = try connect(["auth_method": "key", "private_key_path": sshd.encryptedECDSAKey, "passphrase": "not-it"])
        XCTAssertEqual(wrong.status, 401, wrong.text)
        XCTAssertEqual(wrong.json?["error"] as? String, "authentication_failed")
        XCTAssertTrue(wrong.text.contains("passphrase"), wrong.text)
        let none = try connect(["auth_method": "key", "private_key_path": sshd.encryptedECDSAKey])
        XCTAssertEqual(none.status, 401, none.text)
    }

    func testUnauthorizedKeyIs401NamingTheMethod() throws {
        let r = try connect(["auth_method": "key", "private_key_path": sshd.strangerKey])
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.json?["error"] as? String, "authentication_failed")
        XCTAssertTrue((r.json?["message"] as? String ?? "").contains("(key)"), r.text)
        XCTAssertTrue((r.json?["message"] as? String ?? "").contains("refused the key"), "a refusal, not a load failure: \(r.text)")
    }

    func testMissingKeyFileIs400AndDoesNotConnect() throws {
        let connectionsBefore = sshd.log.components(separatedBy: "Connection from").count
        let r = try connect(["auth_method": "key", "private_key_path": sshd.dir.appendingPathComponent("absent").path])
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.json?["error"] as? String, "invalid_parameters")
        usleep(200_000)
        XCTAssertEqual(sshd.log.components(separatedBy: "Connection from").count, connectionsBefore, "no SSH connection may be attempted")
    }

    func testPasswordAuth() throws {
        let password = try XCTUnwrap(sshd.password, "needs root to create the password user")
        let ok = try connect(["auth_method": "password", "username": SSHDFixture.passwordUser, "password": password])
        XCTAssertEqual(ok.status, 200, ok.text)
        let bad = try connect(["auth_method": "password", "username": SSHDFixture.passwordUser, "password": "nope"])
        XCTAssertEqual(bad.status, 401, bad.text)
        XCTAssertTrue((bad.json?["message"] as? String ?? "").contains("(password)"))
    }

    func testPasswordFallsBackToKeyboardInteractive() throws {
        sshd = nil
        sshd = try SSHDFixture(extraConfig: ["PasswordAuthentication no", "KbdInteractiveAuthentication yes"])
        let password = try XCTUnwrap(sshd.password, "needs root to create the password user")
        let ok = try connect(["auth_method": "password", "username": SSHDFixture.passwordUser, "password": password])
        // This sshd offers no "password" method: only keyboard-interactive can have let it in.
        XCTAssertEqual(ok.status, 200, ok.text)
        let bad = try connect(["auth_method": "password", "username": SSHDFixture.passwordUser, "password": "nope"])
        XCTAssertEqual(bad.status, 401, bad.text)
    }

    func testAgentAuth() throws {
        try sshd.startAgent(keys: [sshd.ed25519Key])
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path, "SSH_AUTH_SOCK": sshd.agentSocket])
        let r = try connect(["auth_method": "agent"])
        XCTAssertEqual(r.status, 200, r.text)
    }

    func testAgentWithoutSocketIs400() throws {
        let r = try connect(["auth_method": "agent"])
        XCTAssertEqual(r.status, 400, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "invalid_parameters")
    }

    func testClosedPortIs500() throws {
        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": try SSHDFixture.freePort(),
                                                                          "username": "x", "auth_method": "password", "password": "x"])
        XCTAssertEqual(r.status, 500)
        XCTAssertEqual(r.json?["error"] as? String, "ssh_error")
    }

    func testListenerThatNeverSpeaksIs408() throws {
        let silent = try SilentListener()
        let start = Date()
        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "127.0.0.1", "port": silent.port, "username": "x",
                                                                          "auth_method": "password", "password": "x", "timeout": 2])
        XCTAssertEqual(r.status, 408, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "connection_timeout")
        XCTAssertLessThan(Date().timeIntervalSince(start), 6)
        _ = silent
    }

    func testHostKeyChangeIs403WithFingerprint() throws {
        _ = try keyConnect()
        let recorded = try sshd.hostKeyFingerprint()
        try sshd.restartWithNewHostKey()
        let offered = try sshd.hostKeyFingerprint()
        XCTAssertNotEqual(recorded, offered)
        let r = try connect(["auth_method": "key", "private_key_path": sshd.ed25519Key])
        XCTAssertEqual(r.status, 403, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "host_key_mismatch")
        // Both keys named, each in its place (ssh-keygen -l's fingerprints).
        let message = r.json?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("server offers \(offered), recorded \(recorded)."), message)
    }

    func testFiftyConcurrentConnects() throws {
        let group = DispatchGroup()
        let lock = NSLock()
        var ids: [String] = []
        var failures: [String] = []
        let body: [String: Any] = ["host": "127.0.0.1", "port": sshd.port, "username": sshd.user, "auth_method": "key",
                                   "private_key_path": sshd.ed25519Key, "timeout": 60]
        for _ in 0..<50 {
            group.enter()
            Thread.detachNewThread { [daemon] in
                defer { group.leave() }
                let r = try? daemon!.request("POST", "/api/remote/connect", json: body, timeout: 90)
                lock.lock()
                if let id = r?.json?["connection_id"] as? String { ids.append(id) } else { failures.append(r?.text ?? "no response") }
                lock.unlock()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success)
        XCTAssertEqual(failures, [])
        XCTAssertEqual(Set(ids).count, 50)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").json?["total"] as? Int, 50)
        XCTAssertLessThanOrEqual(try daemon.threadCount(), 2, "one reactor thread plus the resolver helper")
    }

    func testServerGoneWhileConnectedIsReportedAndDaemonKeepsServing() throws {
        let id = try keyConnect()
        sshd.stop()
        let status = try daemon.waitForFirstConnectionStatus("disconnected", timeout: 10)
        XCTAssertEqual(status, "disconnected")
        XCTAssertEqual(firstConnection()?["reconnecting"] as? Bool, true, "a key login keeps trying while the server is away")
        defer {
            // sshd restarted on its port with its host key: the same connection comes back.
            XCTAssertNoThrow(try sshd.start())
            let back = waitFor("back after the restart") { $0["status"] as? String == "connected" }
            XCTAssertEqual(back?["connection_id"] as? String, id)
            XCTAssertEqual(try? daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200)
        }
        let ping = try daemon.request("GET", "/api/remote/ping?connection_id=\(id)")
        XCTAssertEqual(ping.status, 500, ping.text)
        XCTAssertEqual(ping.json?["error"] as? String, "ssh_error")
        let health = try daemon.request("GET", "/api/remote/health?connection_id=\(id)").json
        XCTAssertEqual(health?["health"] as? String, "unhealthy")
        XCTAssertEqual((health?["checks"] as? [String: String])?["ssh_connection"], "fail")
        XCTAssertEqual(try daemon.request("GET", "/api/health").status, 200)
    }

    private func firstConnection() -> [String: Any]? {
        ((try? daemon.request("GET", "/api/remote/connections").json)?["connections"] as? [[String: Any]])?.first
    }

    /// Waits until `check` holds for the first listed connection.
    private func waitFor(_ what: String, timeout: TimeInterval = 20, _ check: ([String: Any]) -> Bool) -> [String: Any]? {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [String: Any]?
        while Date() < deadline {
            last = firstConnection()
            if let c = last, check(c) { return c }
            usleep(50_000)
        }
        XCTFail("\(what): \(String(describing: last))")
        return last
    }

    /// Reads the SSH banner of the sshd itself, reached through a forward on `port`.
    private func bannerThrough(port: Int) throws -> String {
        let c = try RawClient(port: port, timeout: 10)
        var bytes = [UInt8](repeating: 0, count: 64)
        let n = recv(c.fd, &bytes, bytes.count, 0)
        return n > 0 ? String(decoding: bytes[..<n], as: UTF8.self) : ""
    }

    func testDroppedSessionLogsInAgainWithItsForward() throws {
        let id = try keyConnect()
        let fwd = try daemon.request("POST", "/api/remote/forwards", json: ["connection_id": id, "remote_port": sshd.port])
        XCTAssertEqual(fwd.status, 200, fwd.text)
        let localPort = try XCTUnwrap(fwd.json?["local_port"] as? Int)
        XCTAssertTrue(try bannerThrough(port: localPort).hasPrefix("SSH-2.0-"))
        let loginsBefore = sshd.acceptedLogins
        sshd.dropSessions()
        _ = waitFor("logged in again") { _ in self.sshd.acceptedLogins > loginsBefore }
        let back = waitFor("connected again") { $0["status"] as? String == "connected" }
        XCTAssertEqual(back?["connection_id"] as? String, id, "the same connection, not a new one")
        XCTAssertEqual(back?["reconnecting"] as? Bool, false)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200)
        let forwards = try daemon.request("GET", "/api/remote/forwards?connection_id=\(id)").json?["forwards"] as? [[String: Any]]
        XCTAssertEqual(forwards?.first?["local_port"] as? Int, localPort, "the forward listens on its port again")
        XCTAssertTrue(try bannerThrough(port: localPort).hasPrefix("SSH-2.0-"))
        XCTAssertTrue(daemon.stderr.contains("\(id) reconnected"), daemon.stderr)
    }

    func testForwardWhosePortWasTakenMeanwhileIsClosedAndLogged() throws {
        let id = try keyConnect()
        let fwd = try daemon.request("POST", "/api/remote/forwards", json: ["connection_id": id, "remote_port": sshd.port])
        let localPort = try XCTUnwrap(fwd.json?["local_port"] as? Int)
        let forwardID = try XCTUnwrap(fwd.json?["forward_id"] as? String)
        let listener = try XCTUnwrap(sshd.process?.pid)
        kill(listener, SIGSTOP)   // the server does not answer for a while
        defer { kill(listener, SIGCONT) }
        sshd.dropSessions()
        _ = waitFor("disconnected") { $0["status"] as? String == "disconnected" }
        // Another program takes the forward's port meanwhile.
        let squatter = SSHDFixture.listenLoopback(backlog: 1, port: localPort)
        defer { close(squatter.fd) }
        XCTAssertEqual(squatter.port, localPort)
        kill(listener, SIGCONT)
        _ = waitFor("connected again") { $0["status"] as? String == "connected" }
        let forwards = try daemon.request("GET", "/api/remote/forwards?connection_id=\(id)").json?["forwards"] as? [[String: Any]]
        XCTAssertEqual(forwards?.count, 0, "the forward could not listen again")
        XCTAssertTrue(daemon.stderr.contains("forward \(forwardID) (local port \(localPort)"), daemon.stderr)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/ping?connection_id=\(id)").status, 200)
    }

    func testPasswordConnectionIsNotLoggedInAgain() throws {
        let password = try XCTUnwrap(sshd.password, "needs root to create the password user")
        XCTAssertEqual(try connect(["auth_method": "password", "username": SSHDFixture.passwordUser, "password": password]).status, 200)
        let loginsBefore = sshd.acceptedLogins
        sshd.dropSessions()
        let lost = waitFor("disconnected") { $0["status"] as? String == "disconnected" }
        XCTAssertEqual(lost?["reconnecting"] as? Bool, false)
        usleep(1_500_000)   // three times the first retry delay
        XCTAssertEqual(sshd.acceptedLogins, loginsBefore, "no second password login")
        XCTAssertEqual(firstConnection()?["status"] as? String, "disconnected")
    }

    func testRefusedKeyStopsTheRetries() throws {
        _ = try keyConnect()
        try "".write(to: sshd.dir.appendingPathComponent("authorized_keys"), atomically: true, encoding: .utf8)
        sshd.dropSessions()
        let gaveUp = waitFor("gave up") { $0["status"] as? String == "disconnected" && $0["reconnecting"] as? Bool == false }
        XCTAssertNotNil(gaveUp)
        XCTAssertTrue(daemon.stderr.contains("stays disconnected"), daemon.stderr)
    }

    func testHostAliasFromSSHConfig() throws {
        let config = "Host gpu-box\n  HostName 127.0.0.1\n  Port \(sshd.port)\n  User \(sshd.user)\n  IdentityFile \(sshd.ed25519Key)\n"
        try config.write(to: sshd.home.appendingPathComponent(".ssh/config"), atomically: true, encoding: .utf8)
        daemon = try DaemonProcess(environment: ["HOME": sshd.home.path])
        let r = try daemon.request("POST", "/api/remote/connect", json: ["host": "gpu-box", "auth_method": "key"])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json?["host"] as? String, "gpu-box")
        XCTAssertEqual(r.json?["port"] as? Int, sshd.port)
    }

    func testBadConnectParametersAre400NamingTheField() throws {
        let cases: [([String: Any], String)] = [
            (["host": "h", "username": "u"], "auth_method"),
            (["host": "h", "username": "u", "auth_method": "telepathy"], "auth_method"),
            (["username": "u", "auth_method": "password", "password": "x"], "host"),
            (["host": "h", "username": "u", "auth_method": "password"], "password"),
            (["host": "h", "port": "22", "username": "u", "auth_method": "password", "password": "x"], "port"),
            (["host": "h", "port": 70000, "username": "u", "auth_method": "password", "password": "x"], "port"),
            (["host": "h", "username": 5, "auth_method": "password", "password": "x"], "username"),
            (["host": "h", "username": "u", "auth_method": "password", "password": "x", "timeout": "soon"], "timeout"),
            (["host": "-oProxyCommand=x", "username": "u", "auth_method": "password", "password": "x"], "host"),
        ]
        for (body, field) in cases {
            let r = try daemon.request("POST", "/api/remote/connect", json: body)
            XCTAssertEqual(r.status, 400, "\(body)")
            XCTAssertEqual(r.json?["error"] as? String, "invalid_parameters")
            XCTAssertTrue((r.json?["message"] as? String ?? "").contains("'\(field)'"), "\(body): \(r.text)")
        }
        XCTAssertEqual(try daemon.request("GET", "/api/remote/connections").json?["total"] as? Int, 0)
    }
}
