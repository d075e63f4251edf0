import Foundation
import Glibc
import XCTest

/// The web console in a real headless Chromium, against this class's sshd and the real
/// Runicorn (Tests/Browser/console_flow.py holds the steps and their assertions).
/// Screenshots of each step go to .build/test-output/console/.
extension EnvironmentDetectionTests {
    static let browserPython = "/usr/bin/python3"   // Debian's, where python3-selenium is
    static let chromedriver = "/usr/bin/chromedriver"

    func testConsoleDrivesEverythingInAHeadlessBrowser() throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.chromedriver),
                      "chromium-driver is missing (scripts/setup.sh test installs it)")
        // A hostile alias in the daemon's ~/.ssh/config: the console must show it as text.
        let hostile = "x<img/src=x/onerror=window.__pwned=1>"
        let config = Self.sshd!.home.appendingPathComponent(".ssh/config").path
        try "Host \(hostile)\n    HostName 127.0.0.1\n".write(toFile: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let console = try DaemonProcess(environment: ["HOME": Self.sshd!.home.path])
        let shots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/test-output/console").path
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Browser/console_flow.py").path
        let log = console.directory.appendingPathComponent("browser.log").path
        let run = try ChildProcess(Self.browserPython, [script], environment: [
            "PATH": "/usr/bin:/bin", "HOME": console.directory.path, "RV_API": "http://127.0.0.1:\(console.port)",
            "RV_SSH_PORT": "\(Self.sshd!.port)", "RV_USER": Self.user, "RV_KEY": Self.sshd!.ed25519Key, "RV_SHOTS": shots,
            "RV_HOSTILE": hostile, "RV_HOME": Self.home], stdout: log, stderr: log)
        let status = run.wait(timeout: 300)
        if status == nil { run.kill9() }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let output = (status: status, text: text)
        XCTAssertEqual(output.status, 0, output.text)
        XCTAssertTrue(output.text.contains("CONSOLE FLOW OK"), output.text)
        XCTAssertEqual(text.split(separator: "\n").filter { $0.hasPrefix("STEP ") }.count, 14, "every step ran")
    }
}
