import Foundation
import Glibc
import XCTest

/// Environment detection against a real sshd, logging in as a user whose home holds
/// conda-shaped installs (real venvs with conda-meta/), venvs in each conventional
/// place, a pyenv-shaped version, and one venv with the real `runicorn` from PyPI.
final class EnvironmentDetectionTests: XCTestCase {
    static let user = "rviewer-env"
    nonisolated(unsafe) static var sshd: SSHDFixture?
    nonisolated(unsafe) static var home = ""
    nonisolated(unsafe) static var runicornVersion = ""
    nonisolated(unsafe) static var pythonVersion = ""
    nonisolated(unsafe) static var setupError: Error?

    var daemon: DaemonProcess!

    override class func setUp() {
        do { try buildFixture() } catch { setupError = error }
    }

    override class func tearDown() { sshd = nil }

    @discardableResult
    static func sh(_ command: String, limit: Int = 120) throws -> String {
        try SSHDFixture.run("/bin/sh", ["-c", command], limit: limit).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func buildFixture() throws {
        guard getuid() == 0 else { return }
        let fixture = try SSHDFixture()
        sshd = fixture
        home = fixture.dir.appendingPathComponent("envhome").path
        let q = SSHDFixture.quote
        if getpwnam(user) == nil {
            try sh("useradd -M -s /bin/sh -d \(q(home)) \(user)")
        } else {
            // A session left by an interrupted run would block usermod.
            try sh("pkill -KILL -u \(user); sleep 0.2; usermod -d \(q(home)) \(user)")
        }
        try sh("echo \(q(user)):\(q("pw-\(UUID().uuidString)")) | chpasswd")
        let py = "/usr/bin/python3"
        pythonVersion = try sh("\(py) -c 'import sys; print(\"%d.%d.%d\" % sys.version_info[:3])'")
        func venv(_ rel: String, pip: Bool = false) throws {
            try sh("\(py) -m venv \(pip ? "" : "--without-pip") \(q(home + "/" + rel))")
        }
        func condaMeta(_ rel: String) throws {
            try sh("mkdir -p \(q(home + "/" + rel + "/conda-meta")) && : > \(q(home + "/" + rel + "/conda-meta/history")) && : > \(q(home + "/" + rel + "/conda-meta/python-\(pythonVersion)-h0_cpython.json"))")
        }
        try sh("mkdir -p \(q(home))")
        try venv("miniconda3"); try condaMeta("miniconda3")
        try venv("miniconda3/envs/torch"); try condaMeta("miniconda3/envs/torch")
        try venv("projects/outside"); try condaMeta("projects/outside")
        try sh("mkdir -p \(q(home + "/.conda")) && printf '%s\\n%s\\n' \(q(home + "/miniconda3/envs/torch")) \(q(home + "/projects/outside")) > \(q(home + "/.conda/environments.txt"))")
        try venv(".virtualenvs/alpha")
        try venv("venvs/runi", pip: true)
        try sh("\(q(home + "/venvs/runi/bin/pip")) install --quiet --disable-pip-version-check runicorn", limit: 900)
        runicornVersion = try sh("\(q(home + "/venvs/runi/bin/python")) -c 'import importlib.metadata as m; print(m.version(\"runicorn\"))'")
        try venv("envs/beta")
        try sh("echo 'virtualenv = 20.26.0' >> \(q(home + "/envs/beta/pyvenv.cfg"))")
        try sh("ln -s ../venvs/runi \(q(home + "/envs/dup"))")
        try venv(".venv")
        try venv(".pyenv/versions/pyfix")
        try sh("mkdir -p \(q(home + "/.config/runicorn")) && printf '{\\n  \"user_root_dir\": \"%s\"\\n}\\n' \(q(home + "/runs")) > \(q(home + "/.config/runicorn/config.json"))")
        try sh("chown -R \(user) \(q(home))")
    }

    /// XCTest keeps every test case object until the run ends: end the daemon with the test.
    override func tearDown() { daemon = nil }

    override func setUpWithError() throws {
        try XCTSkipUnless(getuid() == 0, "needs root to create the login user with the fixture home")
        if let e = Self.setupError { throw e }
        // Each test starts clean: viewer directories an earlier test kept (a stop without
        // cleanup keeps the log) would be taken for this test's.
        try? FileManager.default.removeItem(atPath: Self.home + "/.cache/rviewer")
        daemon = try DaemonProcess(environment: ["HOME": Self.sshd!.home.path])
    }

    func connect() throws -> String {
        let r = try daemon.request("POST", "/api/remote/connect", json: [
            "host": "127.0.0.1", "port": Self.sshd!.port, "username": Self.user,
            "auth_method": "key", "private_key_path": Self.sshd!.ed25519Key])
        XCTAssertEqual(r.status, 200, r.text)
        return try XCTUnwrap(r.json?["connection_id"] as? String)
    }

    private struct Expect: Equatable, CustomStringConvertible {
        let name, type: String
        let python: String?
        let runicorn: String?
        let storage: String?
        var description: String { "\(name) \(type) \(python ?? "nil") \(runicorn ?? "nil") \(storage ?? "nil")" }
    }

    func testDetectsEveryKindFieldByField() throws {
        let id = try connect()
        let r = try daemon.request("GET", "/api/remote/environments?connection_id=\(id)")
        XCTAssertEqual(r.status, 200, r.text)
        let envs = try XCTUnwrap(r.json?["environments"] as? [[String: Any]])
        XCTAssertEqual(r.json?["total"] as? Int, envs.count)
        let got = envs.map { e in
            Expect(name: e["name"] as? String ?? "?", type: e["type"] as? String ?? "?", python: e["python_version"] as? String,
                   runicorn: e["runicorn_version"] as? String, storage: e["storage_root"] as? String)
        }
        let h = Self.home, v = Self.pythonVersion
        let expected = [
            Expect(name: "base", type: "conda", python: v, runicorn: nil, storage: nil),
            Expect(name: "torch", type: "conda", python: v, runicorn: nil, storage: nil),
            Expect(name: h + "/projects/outside", type: "conda", python: v, runicorn: nil, storage: nil),
            Expect(name: "alpha", type: "venv", python: v, runicorn: nil, storage: nil),
            Expect(name: "runi", type: "venv", python: v, runicorn: Self.runicornVersion, storage: h + "/runs"),
            Expect(name: "beta", type: "virtualenv", python: v, runicorn: nil, storage: nil),
            Expect(name: ".venv", type: "venv", python: v, runicorn: nil, storage: nil),
            Expect(name: "pyfix", type: "pyenv", python: v, runicorn: nil, storage: nil),
        ]
        XCTAssertEqual(Array(got.prefix(expected.count)), expected)
        // Then the system python3, once; the symlinked duplicate of "runi" is not listed.
        XCTAssertEqual(got.count, expected.count + 1, "\(got)")
        XCTAssertEqual(got.last?.type, "system")
        XCTAssertEqual(got.filter { $0.name == "dup" }, [])
        for e in envs {
            XCTAssertEqual(e["runicorn_installed"] as? Bool, e["runicorn_version"] is String)
            XCTAssertTrue((e["python_path"] as? String ?? "").hasPrefix("/"))
        }

        let only = try daemon.request("GET", "/api/remote/environments?connection_id=\(id)&filter=runicorn_only").json
        XCTAssertEqual((only?["environments"] as? [[String: Any]])?.map { $0["name"] as? String }, ["runi"])
    }

    func testDetectAndConfig() throws {
        let id = try connect()
        let d = try daemon.request("POST", "/api/remote/environments/detect", json: ["connection_id": id, "force_refresh": true])
        XCTAssertEqual(d.status, 200, d.text)
        XCTAssertEqual(d.json?["environments_found"] as? Int, 9)
        XCTAssertEqual(d.json?["message"] as? String, "Environments detected successfully")

        let c = try daemon.request("GET", "/api/remote/config?connection_id=\(id)&env_name=runi")
        XCTAssertEqual(c.status, 200, c.text)
        XCTAssertEqual(c.json?["runicorn_version"] as? String, Self.runicornVersion)
        let config = c.json?["config"] as? [String: Any]
        XCTAssertEqual(config?["user_root_dir"] as? String, Self.home + "/runs")
        XCTAssertEqual(config?["viewer_port"] as? Int, 23300)

        let plain = try daemon.request("GET", "/api/remote/config?connection_id=\(id)&env_name=alpha")
        XCTAssertEqual(plain.status, 200)
        XCTAssertTrue(plain.json?["runicorn_version"] is NSNull)
    }

    func testHostileEnvironmentNamesAre404AndRunNothing() throws {
        let id = try connect()
        XCTAssertEqual(try daemon.request("GET", "/api/remote/environments?connection_id=\(id)").status, 200)
        let sessionsBefore = Self.sshd!.log.components(separatedBy: "Starting session").count
        XCTAssertGreaterThan(sessionsBefore, 2, "sshd logs every exec (server_info, detection)")
        for name in ["runi'", "runi; touch /tmp/pwned", "$(touch /tmp/pwned)", "`touch /tmp/pwned`", "runi\ntouch /tmp/pwned", "../runi", "\"runi\""] {
            let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let r = try daemon.request("GET", "/api/remote/config?connection_id=\(id)&env_name=\(encoded)")
            XCTAssertEqual(r.status, 404, name)
            XCTAssertEqual(r.json?["error"] as? String, "environment_not_found")
            XCTAssertEqual(r.json?["message"] as? String, "No detected environment named '\(name)'")
        }
        // A NUL would cut the quoted argument short in the remote command: refused first.
        let nul = try daemon.request("POST", "/api/remote/viewer/start", json: ["connection_id": id, "env_name": "runi", "auto_open": false,
                                                                                 "remote_root": "/tmp/x\u{0}'; touch /tmp/pwned; '"])
        XCTAssertEqual(nul.status, 400, nul.text)
        XCTAssertEqual(nul.json?["error"] as? String, "invalid_parameters")
        usleep(200_000)
        XCTAssertEqual(Self.sshd!.log.components(separatedBy: "Starting session").count, sessionsBefore, "no remote command may run")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/pwned"))
    }

    func testDisconnectDuringDetectionAnswersTheDetection() throws {
        let id = try connect()
        var answer: RawClient.Response?
        let answered = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [daemon] in
            answer = try? daemon!.request("POST", "/api/remote/environments/detect", json: ["connection_id": id], timeout: 60)
            answered.signal()
        }
        usleep(5_000)   // the detection (about 40 ms here) is under way
        XCTAssertEqual(try daemon.request("DELETE", "/api/remote/connections/\(id)").status, 200)
        XCTAssertEqual(answered.wait(timeout: .now() + 60), .success, "the detection request got an answer")
        let status = try XCTUnwrap(answer).status
        XCTAssertTrue(status == 200 || status == 500 || status == 404, "\(status)")
    }

    func testEnvironmentErrors() throws {
        let id = try connect()
        XCTAssertEqual(try daemon.request("GET", "/api/remote/environments").json?["error"] as? String, "invalid_parameters")
        XCTAssertEqual(try daemon.request("GET", "/api/remote/environments?connection_id=conn_00000000").json?["error"] as? String, "connection_not_found")
        XCTAssertEqual(try daemon.request("GET", "/api/remote/environments?connection_id=\(id)&filter=bogus").status, 400)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/config?connection_id=\(id)").json?["error"] as? String, "invalid_parameters")
        XCTAssertEqual(try daemon.request("POST", "/api/remote/environments/detect", json: ["force_refresh": true]).status, 400)
        XCTAssertEqual(try daemon.request("POST", "/api/remote/environments/detect", json: ["connection_id": "conn_00000000"]).status, 404)
    }
}
