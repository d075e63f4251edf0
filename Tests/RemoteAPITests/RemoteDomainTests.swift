import XCTest
@testable import Remote
@testable import RemoteAPI
import SSH

final class ServerInfoTests: XCTestCase {
    func testParsesTheCommandOutput() {
        let info = ServerInfo.parse("os=Linux\nhostname=gpu-server-01\npython=Python 3.10.8\n")
        XCTAssertEqual(info, ServerInfo(hostname: "gpu-server-01", os: "Linux", pythonVersion: "3.10.8"))
    }

    func testMissingPythonIsNull() {
        XCTAssertNil(ServerInfo.parse("os=Linux\nhostname=h\npython=sh: 1: python3: not found\n").pythonVersion)
        XCTAssertNil(ServerInfo.pythonVersion(in: "Python"))
        XCTAssertEqual(ServerInfo.pythonVersion(in: "Python 3.12.0rc1"), "3.12.0")
    }
}

final class SSHEnvironmentTests: XCTestCase {
    func testRequestFieldsBeatTheAlias() throws {
        let env = SSHEnvironment(home: "/home/u", config: SSHConfigFile(text: "Host box\n HostName 10.1.2.3\n User cfg\n Port 2200\n"), agentSocket: nil)
        let t = try env.target(for: ConnectRequest(host: "box", port: 22, username: "me", auth: .password, privateKeyPath: nil,
                                                  password: "x", passphrase: nil, timeoutSeconds: 5))
        XCTAssertEqual(t.host, "10.1.2.3")
        XCTAssertEqual(t.port, 22)
        XCTAssertEqual(t.username, "me")
        XCTAssertEqual(t.timeoutMs, 5000)
    }

    func testMissingFieldsAreNamed() {
        let env = SSHEnvironment(home: "/h", config: nil, agentSocket: nil)
        func message(_ r: ConnectRequest) -> String {
            do { _ = try env.target(for: r); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(message(ConnectRequest(host: "h", port: nil, username: nil, auth: .password, privateKeyPath: nil, password: "x", passphrase: nil, timeoutSeconds: 1)).contains("'username'"))
        XCTAssertTrue(message(ConnectRequest(host: "h", port: nil, username: "u", auth: .key, privateKeyPath: nil, password: nil, passphrase: nil, timeoutSeconds: 1)).contains("'private_key_path'"))
        XCTAssertTrue(message(ConnectRequest(host: "h", port: nil, username: "u", auth: .agent, privateKeyPath: nil, password: nil, passphrase: nil, timeoutSeconds: 1)).contains("SSH_AUTH_SOCK"))
    }

    func testSSHErrorsMapToSpecCodes() {
        XCTAssertEqual(APIError(SSHError.authenticationFailed(method: "key", message: "x")).status, 401)
        XCTAssertEqual(APIError(SSHError.hostKeyMismatch(HostKeyFacts(host: "h", port: 22, keyType: "ssh-ed25519", fingerprint: "SHA256:x",
                                                                       expected: "SHA256:y"))).code, "host_key_mismatch")
        XCTAssertEqual(APIError(SSHError.timeout(phase: "handshake")).code, "connection_timeout")
        XCTAssertEqual(APIError(SSHError.timeout(phase: "handshake")).status, 408)
        XCTAssertEqual(APIError(SSHError.connectionFailed("refused")).code, "ssh_error")
        XCTAssertEqual(APIError(SSHError.invalidParameters("x")).status, 400)
    }
}

final class DetectionResultTests: XCTestCase {
    func testParsesRecordsDedupsAndNamesUniquely() {
        let out = """
        ENV\tconda\tbase\t/opt/conda\t/opt/conda/bin/python3\t3.10.8\t\t/opt/conda
        ENV\tconda\tbase\t/home/u/miniforge3\t/home/u/miniforge3/bin/python3\t3.11.0\t0.5.0\r\t/home/u/miniforge3
        ENV\tvenv\tdup\t/home/u/envs/dup\t/home/u/envs/dup/bin/python3\t3.11.2\t\t/opt/conda
        ENV\tvirtualenv\tv\t/home/u/v\t/home/u/v/bin/python\t3.9.15.final.0\t\t/home/u/v
        ENV\tweird\tx\t/x\t/x/bin/python\t3.1\t\t/x
        garbage line
        CFG\t\t/data/runs
        """
        let r = DetectionResult.parse(out)
        XCTAssertEqual(r.environments.map(\.name), ["base", "/home/u/miniforge3", "v"])
        XCTAssertEqual(r.environments.map(\.type), [.conda, .conda, .virtualenv])
        XCTAssertEqual(r.environments[1].runicornVersion, "0.5.0")
        XCTAssertEqual(r.environments[1].storageRoot, "/data/runs")
        XCTAssertNil(r.environments[0].storageRoot, "no Runicorn, no storage root")
        XCTAssertEqual(r.environments[2].pythonVersion, "3.9.15")
        XCTAssertEqual(r.userRootDir, "/data/runs")
        XCTAssertNil(r.runicornDir)
        XCTAssertNil(r.configuredViewerPort)
        XCTAssertEqual(r.viewerPort, 23300, "Runicorn's default when its config names none")
    }

    func testViewerPortFromRunicornsConfig() {
        XCTAssertEqual(DetectionResult.parse("CFG\t\t\t24555\n").viewerPort, 24555)
        XCTAssertEqual(DetectionResult.parse("CFG\t\t\t99999\n").viewerPort, 23300, "out of range: the default")
        XCTAssertEqual(DetectionResult.parse("CFG\t\t\t\n").viewerPort, 23300)
    }

    func testRunicornDirBeatsUserConfig() {
        let r = DetectionResult.parse("ENV\tvenv\ta\t/a\t/a/bin/python3\t3.11.2\t0.7.2\t/a\nCFG\t/env/dir\t/cfg/dir\n")
        XCTAssertEqual(r.environments.first?.storageRoot, "/env/dir")
    }

    func testBareVersion() {
        XCTAssertEqual(DetectionResult.bareVersion("3.11.2"), "3.11.2")
        XCTAssertEqual(DetectionResult.bareVersion("Python 3.9.15"), "3.9.15")
        XCTAssertEqual(DetectionResult.bareVersion("3.12.0rc1"), "3.12.0")
        XCTAssertEqual(DetectionResult.bareVersion("3.8"), "3.8")
        XCTAssertNil(DetectionResult.bareVersion(""))
        XCTAssertNil(DetectionResult.bareVersion("abc"))
    }
}

final class HealthReportTests: XCTestCase {
    func testVerdicts() {
        XCTAssertEqual(HealthReport(sshOK: true, viewer: nil).health, "healthy")
        XCTAssertEqual(HealthReport(sshOK: true, viewer: nil).viewerProcess, .skip)
        XCTAssertEqual(HealthReport(sshOK: true, viewer: (true, true)).health, "healthy")
        XCTAssertEqual(HealthReport(sshOK: true, viewer: (true, false)).health, "degraded")
        XCTAssertEqual(HealthReport(sshOK: true, viewer: (false, true)).health, "degraded")
        XCTAssertEqual(HealthReport(sshOK: false, viewer: (false, false)).health, "unhealthy")
        XCTAssertEqual(HealthReport(sshOK: false, viewer: nil).tunnelActive, .skip)
    }
}
