import Foundation
import Glibc
import XCTest

/// The web console in a real headless Chromium, against this class's sshd and the real
/// Runicorn (Tests/Browser/console_flow.py holds the steps and their assertions).
/// Screenshots of each step go to .build/test-output/console/.
extension EnvironmentDetectionTests {
    func testConsoleDrivesEverythingInAHeadlessBrowser() throws {
        // A hostile alias in the daemon's ~/.ssh/config: the console must show it as text.
        let hostile = "x<img/src=x/onerror=window.__pwned=1>"
        let config = Self.sshd!.home.appendingPathComponent(".ssh/config").path
        try "Host \(hostile)\n    HostName 127.0.0.1\n".write(toFile: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let console = try DaemonProcess(environment: ["HOME": Self.sshd!.home.path])
        let output = try BrowserScript.run("console_flow.py", daemon: console, environment: [
            "RV_SSH_PORT": "\(Self.sshd!.port)", "RV_USER": Self.user, "RV_KEY": Self.sshd!.ed25519Key,
            "RV_HOSTILE": hostile, "RV_HOME": Self.home])
        let text = output.text
        XCTAssertEqual(output.status, 0, output.text)
        XCTAssertTrue(output.text.contains("CONSOLE FLOW OK"), output.text)
        XCTAssertEqual(text.split(separator: "\n").filter { $0.hasPrefix("STEP ") }.count, 15, "every step ran")
    }
}

/// Runs a selenium script of Tests/Browser against a daemon (Debian's python3, where
/// python3-selenium is; Debian's chromium and chromedriver), screenshots under
/// .build/test-output/console/.
enum BrowserScript {
    static let python = "/usr/bin/python3"
    static let chromedriver = "/usr/bin/chromedriver"

    static func run(_ name: String, daemon: DaemonProcess, environment: [String: String]) throws -> (status: Int32?, text: String) {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: chromedriver), "chromium-driver is missing (scripts/setup.sh test installs it)")
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let shots = tests.deletingLastPathComponent().appendingPathComponent(".build/test-output/console").path
        let log = daemon.directory.appendingPathComponent("browser-\(name).log").path
        let run = try ChildProcess(python, [tests.appendingPathComponent("Browser/" + name).path], environment: [
            "PATH": "/usr/bin:/bin", "HOME": daemon.directory.path, "RV_API": "http://127.0.0.1:\(daemon.port)", "RV_SHOTS": shots,
        ].merging(environment) { $1 }, stdout: log, stderr: log)
        let status = run.wait(timeout: 300)
        if status == nil { run.kill9() }
        return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }
}
