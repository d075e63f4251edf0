import Foundation
import Glibc
import XCTest

/// Environment detection against a real sshd, logging in as a user whose home holds
/// an environment in every place the detection script looks, each with its own Python
/// version told by its own source (conda-meta JSON, `patchlevel.h`, a pyenv folder name,
/// `pyvenv.cfg`), none of them the system Python's, so a field read from the wrong
/// source fails the test. One venv holds the real `runicorn` from PyPI. The login
/// environment (sshd's `PermitUserEnvironment`) sets `CONDA_EXE`, `WORKON_HOME` and
/// `PYENV_ROOT`; one conda root lives under /opt.
final class EnvironmentDetectionTests: XCTestCase {
    static let user = "rviewer-env"
    /// A conda root in one of the script's /opt places; created and removed by the fixture
    /// (refused if the machine has one of its own).
    static let optRoot = "/opt/miniforge3"
    static let optMarker = optRoot + "/.rviewer-test-fixture"
    nonisolated(unsafe) static var sshd: SSHDFixture?
    nonisolated(unsafe) static var home = ""
    nonisolated(unsafe) static var runicornVersion = ""
    nonisolated(unsafe) static var pythonVersion = ""
    nonisolated(unsafe) static var setupError: Error?

    var daemon: DaemonProcess!

    override class func setUp() {
        do { try buildFixture() } catch { setupError = error }
    }

    override class func tearDown() {
        sshd = nil
        if FileManager.default.fileExists(atPath: optMarker) { try? FileManager.default.removeItem(atPath: optRoot) }
    }

    @discardableResult
    static func sh(_ command: String, limit: Int = 120) throws -> String {
        try SSHDFixture.run("/bin/sh", ["-c", command], limit: limit).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func buildFixture() throws {
        guard getuid() == 0 else { return }
        let fixture = try SSHDFixture(extraConfig: ["PermitUserEnvironment yes"])
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
        func path(_ rel: String) -> String { rel.hasPrefix("/") ? rel : home + "/" + rel }
        /// A venv whose pyvenv.cfg tells `version` (the interpreter is the system's).
        func venv(_ rel: String, version: String?, pip: Bool = false) throws {
            try sh("\(py) -m venv \(pip ? "" : "--without-pip") \(q(path(rel)))")
            if let version { try sh("sed -i 's/^version *=.*/version = \(version)/' \(q(path(rel) + "/pyvenv.cfg"))") }
        }
        /// A prefix with only bin/python3 (the system's, linked): its version must come from elsewhere.
        func prefix(_ rel: String) throws {
            try sh("mkdir -p \(q(path(rel) + "/bin")) && ln -s \(py) \(q(path(rel) + "/bin/python3"))")
        }
        func conda(_ rel: String, version: String?) throws {
            try prefix(rel)
            try sh("mkdir -p \(q(path(rel) + "/conda-meta")) && : > \(q(path(rel) + "/conda-meta/history"))")
            if let version { try sh(": > \(q(path(rel) + "/conda-meta/python-\(version)-h0_cpython.json"))") }
        }
        try sh("mkdir -p \(q(home + "/.ssh"))")
        try ["CONDA_EXE=\(home)/tools/condax/bin/conda", "WORKON_HOME=\(home)/workon", "PYENV_ROOT=\(home)/pyroot", ""]
            .joined(separator: "\n").write(toFile: home + "/.ssh/environment", atomically: true, encoding: .utf8)
        try conda("tools/condax", version: "3.12.4")                 // CONDA_EXE's root
        try conda("miniconda3", version: "3.10.14")
        try conda("miniconda3/envs/torch", version: "3.9.19")
        try conda("projects/outside", version: "3.13.0")             // only in environments.txt
        try sh("mkdir -p \(q(home + "/.conda")) && printf '%s\\n%s\\n' \(q(home + "/miniconda3/envs/torch")) \(q(home + "/projects/outside")) > \(q(home + "/.conda/environments.txt"))")
        if FileManager.default.fileExists(atPath: optRoot) {
            guard FileManager.default.fileExists(atPath: optMarker) else {
                throw NSError(domain: "EnvironmentDetectionTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(optRoot) exists on this machine; the fixture needs that place free"])
            }
            try FileManager.default.removeItem(atPath: optRoot)       // an interrupted run's
        }
        try conda(optRoot, version: nil)                              // patchlevel.h only
        try sh(": > \(q(optMarker)) && mkdir -p \(q(optRoot + "/include/python3.8")) && printf '#define PY_MAJOR_VERSION 3\\n#define PY_VERSION \"3.8.18\"\\n' > \(q(optRoot + "/include/python3.8/patchlevel.h"))")
        try venv(".virtualenvs/alpha", version: "3.11.4")
        try venv("venvs/runi", version: nil, pip: true)                // the real one: the system's version
        try sh("\(q(home + "/venvs/runi/bin/pip")) install --quiet --disable-pip-version-check runicorn", limit: 900)
        runicornVersion = try sh("\(q(home + "/venvs/runi/bin/python")) -c 'import importlib.metadata as m; print(m.version(\"runicorn\"))'")
        try venv("envs/beta", version: nil)
        // virtualenv's own pyvenv.cfg: `version_info` and a `virtualenv` line.
        try sh("sed -i 's/^version *=.*/version_info = 3.10.12.final.0/' \(q(home + "/envs/beta/pyvenv.cfg")) && echo 'virtualenv = 20.26.0' >> \(q(home + "/envs/beta/pyvenv.cfg"))")
        try sh("ln -s ../venvs/runi \(q(home + "/envs/dup"))")
        try venv(".venvs/gamma", version: "3.11.5")
        try venv("workon/delta", version: "3.11.6")                   // $WORKON_HOME
        try venv(".local/share/virtualenvs/proj-AbCd1234", version: "3.11.7")   // pipenv
        try venv(".cache/pypoetry/virtualenvs/app-XyZ12-py3.11", version: "3.11.8")   // poetry
        try venv(".venv", version: "3.11.9")
        try prefix("pyroot/versions/3.7.17")                          // $PYENV_ROOT, version from the folder name
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
        let name, type, path, pythonPath: String
        let python: String?
        let runicorn: String?
        let storage: String?
        var description: String { "\(name) \(type) \(path) \(pythonPath) \(python ?? "nil") \(runicorn ?? "nil") \(storage ?? "nil")" }
    }

    func testDetectsEveryKindFieldByField() throws {
        let id = try connect()
        let r = try daemon.request("GET", "/api/remote/environments?connection_id=\(id)")
        XCTAssertEqual(r.status, 200, r.text)
        let envs = try XCTUnwrap(r.json?["environments"] as? [[String: Any]])
        XCTAssertEqual(r.json?["total"] as? Int, envs.count)
        let got = envs.map { e in
            Expect(name: e["name"] as? String ?? "?", type: e["type"] as? String ?? "?", path: e["path"] as? String ?? "?",
                   pythonPath: e["python_path"] as? String ?? "?", python: e["python_version"] as? String,
                   runicorn: e["runicorn_version"] as? String, storage: e["storage_root"] as? String)
        }
        let h = Self.home
        func env(_ name: String, _ type: String, _ path: String, _ python: String?, runicorn: String? = nil, storage: String? = nil) -> Expect {
            Expect(name: name, type: type, path: path, pythonPath: path + "/bin/python3", python: python, runicorn: runicorn, storage: storage)
        }
        let expected = [
            env("base", "conda", h + "/tools/condax", "3.12.4"),                          // CONDA_EXE, conda-meta
            env(h + "/miniconda3", "conda", h + "/miniconda3", "3.10.14"),                // a second "base": its prefix
            env("torch", "conda", h + "/miniconda3/envs/torch", "3.9.19"),
            env(Self.optRoot, "conda", Self.optRoot, "3.8.18"),                           // /opt, patchlevel.h
            env(h + "/projects/outside", "conda", h + "/projects/outside", "3.13.0"),     // environments.txt
            env("alpha", "venv", h + "/.virtualenvs/alpha", "3.11.4"),                     // pyvenv.cfg
            env("runi", "venv", h + "/venvs/runi", Self.pythonVersion, runicorn: Self.runicornVersion, storage: h + "/runs"),
            env("beta", "virtualenv", h + "/envs/beta", "3.10.12"),                       // version_info
            env("gamma", "venv", h + "/.venvs/gamma", "3.11.5"),
            env("delta", "venv", h + "/workon/delta", "3.11.6"),                          // WORKON_HOME
            env("proj-AbCd1234", "venv", h + "/.local/share/virtualenvs/proj-AbCd1234", "3.11.7"),          // pipenv
            env("app-XyZ12-py3.11", "venv", h + "/.cache/pypoetry/virtualenvs/app-XyZ12-py3.11", "3.11.8"), // poetry
            env(".venv", "venv", h + "/.venv", "3.11.9"),
            env("3.7.17", "pyenv", h + "/pyroot/versions/3.7.17", "3.7.17"),              // PYENV_ROOT, folder name
            Expect(name: "system", type: "system", path: "/usr", pythonPath: "/usr/bin/python3", python: Self.pythonVersion,
                   runicorn: nil, storage: nil),
        ]
        XCTAssertEqual(got, expected, "\n\(got.map(\.description).joined(separator: "\n"))")
        // The symlinked duplicate of "runi" is not listed.
        XCTAssertEqual(got.filter { $0.name == "dup" }, [])
        for e in envs {
            XCTAssertEqual(e["runicorn_installed"] as? Bool, e["runicorn_version"] is String)
        }

        let only = try daemon.request("GET", "/api/remote/environments?connection_id=\(id)&filter=runicorn_only").json
        XCTAssertEqual((only?["environments"] as? [[String: Any]])?.map { $0["name"] as? String }, ["runi"])
    }

    func testDetectAndConfig() throws {
        let id = try connect()
        let d = try daemon.request("POST", "/api/remote/environments/detect", json: ["connection_id": id, "force_refresh": true])
        XCTAssertEqual(d.status, 200, d.text)
        XCTAssertEqual(d.json?["environments_found"] as? Int, 15)
        XCTAssertEqual(d.json?["message"] as? String, "Environments detected successfully")

        let c = try daemon.request("GET", "/api/remote/config?connection_id=\(id)&env_name=runi")
        XCTAssertEqual(c.status, 200, c.text)
        XCTAssertEqual(c.json?["runicorn_version"] as? String, Self.runicornVersion)
        let config = c.json?["config"] as? [String: Any]
        XCTAssertEqual(config?["user_root_dir"] as? String, Self.home + "/runs")
        XCTAssertEqual(config?["viewer_port"] as? Int, 23300, "Runicorn's default: its config names no port")

        let plain = try daemon.request("GET", "/api/remote/config?connection_id=\(id)&env_name=alpha")
        XCTAssertEqual(plain.status, 200)
        XCTAssertTrue(plain.json?["runicorn_version"] is NSNull)

        // A port set in Runicorn's config.json is the one reported (after a new detection).
        let file = Self.home + "/.config/runicorn/config.json"
        let original = try String(contentsOfFile: file, encoding: .utf8)
        defer { try? original.write(toFile: file, atomically: false, encoding: .utf8) }
        try "{\"user_root_dir\": \"\(Self.home)/runs\", \"viewer_port\": 24555}\n".write(toFile: file, atomically: false, encoding: .utf8)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/config?connection_id=\(id)&env_name=runi").json?["config"].flatMap { $0 as? [String: Any] }?["viewer_port"] as? Int,
                       23300, "the last detection is what answers")
        XCTAssertEqual(try daemon.request("POST", "/api/remote/environments/detect", json: ["connection_id": id, "force_refresh": true]).status, 200)
        let set = try daemon.request("GET", "/api/remote/config?connection_id=\(id)&env_name=runi").json?["config"] as? [String: Any]
        XCTAssertEqual(set?["viewer_port"] as? Int, 24555)
        XCTAssertEqual(set?["user_root_dir"] as? String, Self.home + "/runs")
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

    /// The detection is held on the server (an interpreter that waits for a file) while
    /// the connection is deleted: the detection request is answered, with the one answer
    /// a command cut off by its closed connection gets.
    func testDisconnectDuringDetectionAnswersTheDetection() throws {
        let q = SSHDFixture.quote
        let slow = Self.home + "/pyroot/versions/slow"
        let started = Self.home + "/slow-started", release = Self.home + "/slow-release"
        // No version source but the interpreter: the script runs it, and it waits.
        try FileManager.default.createDirectory(atPath: slow + "/bin", withIntermediateDirectories: true)
        try """
            #!/bin/sh
            : > \(q(started))
            i=0
            while [ ! -e \(q(release)) ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
            echo 3.0.0

            """.write(toFile: slow + "/bin/python3", atomically: false, encoding: .utf8)
        try Self.sh("chmod 755 \(q(slow + "/bin/python3")) && chown -R \(Self.user) \(q(slow))")
        defer { _ = try? Self.sh("touch \(q(release)); rm -rf \(q(slow)) \(q(started)) \(q(release))") }
        let id = try connect()
        var answer: RawClient.Response?
        let answered = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [daemon] in
            answer = try? daemon!.request("POST", "/api/remote/environments/detect", json: ["connection_id": id], timeout: 60)
            answered.signal()
        }
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: started) && Date() < deadline { usleep(10_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: started), "the detection reached the waiting interpreter")
        XCTAssertEqual(answered.wait(timeout: .now() + 0.2), .timedOut, "the detection is still held on the server")
        XCTAssertEqual(try daemon.request("DELETE", "/api/remote/connections/\(id)").status, 200)
        XCTAssertEqual(answered.wait(timeout: .now() + 30), .success, "the detection request got an answer")
        let r = try XCTUnwrap(answer)
        XCTAssertEqual(r.status, 500, r.text)
        XCTAssertEqual(r.json?["error"] as? String, "ssh_error", r.text)
        XCTAssertEqual(try daemon.request("GET", "/api/remote/environments?connection_id=\(id)").status, 404, "the connection is gone")
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
