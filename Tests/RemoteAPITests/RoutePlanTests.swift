import XCTest
@testable import Remote
@testable import SSH

/// Where a connect request goes through: `proxy_jump` syntax, aliases, ProxyCommand
/// tokens, "none".
final class RoutePlanTests: XCTestCase {
    func testJumpSyntax() throws {
        let hops = try JumpSpec.parseList("alice@bastion:2200, login2,[fe80::1]:22,bob@[::1]").get()
        XCTAssertEqual(hops, [JumpSpec(user: "alice", host: "bastion", port: 2200), JumpSpec(user: nil, host: "login2", port: nil),
                              JumpSpec(user: nil, host: "fe80::1", port: 22), JumpSpec(user: "bob", host: "::1", port: nil)])
        for bad in ["", "a:b", "@h", "h:0", "h:70000", "[::1", "a,,b", "h/x"] {
            guard case .failure(.invalidParameters) = JumpSpec.parseList(bad) else { return XCTFail("accepted \(bad)") }
        }
    }

    func testPlansFromRequestAndConfig() throws {
        let config = SSHConfigFile(text: """
        Host bastion
          HostName 10.0.0.1
          User jump
          Port 2022
          IdentityFile /etc/hostname
        Host gpu
          HostName 10.0.0.9
          ProxyJump bastion
        Host cmd
          ProxyCommand nc -X connect -x proxy:8080 %h %p # %r %% %z
        """)
        let env = SSHEnvironment(home: "/home/u", config: config, agentSocket: "/tmp/agent.sock")
        func plan(_ host: String, jump: String? = nil) throws -> RoutePlan {
            let request = ConnectRequest(host: host, port: nil, username: "me", auth: .password, privateKeyPath: nil,
                                         password: "x", passphrase: nil, timeoutSeconds: nil, proxyJump: jump)
            return try env.routePlan(for: request, target: try env.target(for: request))
        }
        guard case .jump(let hops) = try plan("gpu") else { return XCTFail("the alias's ProxyJump") }
        XCTAssertEqual(hops.map { "\($0.username)@\($0.host):\($0.port)" }, ["jump@10.0.0.1:2022"])
        guard case .key(let path, _) = hops[0].auth else { return XCTFail("the hop's IdentityFile") }
        XCTAssertEqual(path, "/etc/hostname")
        guard case .direct = try plan("gpu", jump: "none") else { return XCTFail("none turns it off") }
        guard case .jump(let two) = try plan("10.0.0.9", jump: "a@x:1,y") else { return XCTFail() }
        XCTAssertEqual(two.map(\.host), ["x", "y"])
        guard case .agent = two[1].auth else { return XCTFail("no IdentityFile: the agent") }
        guard case .command(let line) = try plan("cmd") else { return XCTFail("the alias's ProxyCommand") }
        XCTAssertEqual(line, "nc -X connect -x proxy:8080 cmd 22 # me % %z")
        XCTAssertThrowsError(try SSHEnvironment(home: "/h", config: nil, agentSocket: nil).routePlan(
            for: ConnectRequest(host: "t", port: nil, username: "u", auth: .password, privateKeyPath: nil, password: "p",
                                passphrase: nil, timeoutSeconds: nil, proxyJump: "bastion"),
            target: SSHSession.Target(host: "t", port: 22, username: "u", auth: .password("p"), timeoutMs: 1000)),
            "a hop with neither IdentityFile nor agent")
    }

    func testConnectTimeoutAndServerAliveFromTheAlias() throws {
        let env = SSHEnvironment(home: "/h", config: SSHConfigFile(text: "Host slow\n ConnectTimeout 9\n ServerAliveInterval 20\n"), agentSocket: nil)
        let request = ConnectRequest(host: "slow", port: nil, username: "u", auth: .password, privateKeyPath: nil, password: "p",
                                     passphrase: nil, timeoutSeconds: nil)
        let target = try env.target(for: request)
        XCTAssertEqual(target.timeoutMs, 9000)
        XCTAssertEqual(target.serverAlive?.interval, 20)
        XCTAssertEqual(target.serverAlive?.countMax, 3, "ssh's default count")
        var explicit = request
        explicit.timeoutSeconds = 4
        XCTAssertEqual(try env.target(for: explicit).timeoutMs, 4000, "the request's timeout wins")
    }
}
