import Foundation
import Glibc
import XCTest

/// `make install`'s script: the binary, the config (kept when present), the docs and a
/// systemd user unit whose ExecStart is the installed binary with the installed config,
/// and that installed pair starts and serves.
final class InstallTests: XCTestCase {
    func testInstallsABinaryConfigAndUnitThatStartAndServe() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("rviewer-install-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let env = ["HOME": root, "XDG_CONFIG_HOME": root + "/.config", "PATH": "/usr/bin:/bin"]
        let out = try SSHDFixture.run(repo + "/scripts/install.sh", [DaemonProcess.binary.path, root + "/.local"], environment: env)
        XCTAssertTrue(out.contains("systemctl --user daemon-reload && systemctl --user enable --now rviewer"), out)
        let bin = root + "/.local/bin/rviewer", unit = root + "/.config/systemd/user/rviewer.service"
        let config = root + "/.config/rviewer/rviewer.json"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: bin))
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/.local/share/doc/rviewer/USAGE.md"))
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        XCTAssertTrue(text.contains("ExecStart=\(bin) serve --config %h/.config/rviewer/rviewer.json"), text)
        XCTAssertFalse(text.contains("@BINDIR@") || text.contains("@DOCDIR@"), "every placeholder replaced")
        XCTAssertEqual(try String(contentsOfFile: config, encoding: .utf8), try String(contentsOfFile: repo + "/config/rviewer.json", encoding: .utf8))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            XCTAssertEqual(try SSHDFixture.run("/usr/bin/systemd-analyze", ["verify", unit], environment: env), "", "systemd finds nothing wrong")
        }

        // A config the user edited is kept by a second install.
        try "{\"port\": 0}\n".write(toFile: config, atomically: true, encoding: .utf8)
        try SSHDFixture.run(repo + "/scripts/install.sh", [DaemonProcess.binary.path, root + "/.local"], environment: env)
        XCTAssertEqual(try String(contentsOfFile: config, encoding: .utf8), "{\"port\": 0}\n")

        // What the unit runs (with %h = HOME) starts and answers.
        let stdout = root + "/stdout"
        let daemon = try ChildProcess(bin, ["serve", "--config", config, "--state-dir", root + "/state"], environment: env, stdout: stdout)
        defer { daemon.signal(SIGTERM); daemon.wait(timeout: 15) }
        var port: Int?
        let deadline = Date().addingTimeInterval(15)
        while port == nil, Date() < deadline {
            port = ((try? String(contentsOfFile: stdout, encoding: .utf8)) ?? "").split(separator: "\n")
                .first { $0.hasPrefix("rviewer listening on") }.flatMap { Int($0.split(separator: ":").last ?? "") }
            usleep(20_000)
        }
        let client = try RawClient(port: try XCTUnwrap(port, "the installed daemon never said where it listens"), timeout: 10)
        let health = try client.get("/api/health")
        XCTAssertEqual(health.json?["status"] as? String, "ok")
    }
}
