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
        XCTAssertEqual(APIError(SSHError.hostKeyMismatch(host: "h", fingerprint: "SHA256:x", expected: "y")).code, "host_key_mismatch")
        XCTAssertEqual(APIError(SSHError.timeout(phase: "handshake")).code, "connection_timeout")
        XCTAssertEqual(APIError(SSHError.timeout(phase: "handshake")).status, 408)
        XCTAssertEqual(APIError(SSHError.connectionFailed("refused")).code, "ssh_error")
        XCTAssertEqual(APIError(SSHError.invalidParameters("x")).status, 400)
    }
}
