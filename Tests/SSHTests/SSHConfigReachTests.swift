import XCTest
@testable import SSH

/// The ~/.ssh/config keys that say how to reach a server: ProxyJump / ProxyCommand (the
/// first of the two wins), timeouts and keepalives, Match host, Include.
final class SSHConfigReachTests: XCTestCase {
    func testProxyKeysAndTimers() {
        let config = SSHConfigFile(text: """
        Host gpu
          HostName gpu.internal
          ProxyJump bastion,login2
          ProxyCommand never-used %h
          ConnectTimeout 7
          ServerAliveInterval 15
          ServerAliveCountMax 4
          IdentitiesOnly yes
        Host cloud-*
          ProxyCommand cloudflared access ssh --hostname %h
        """)
        let gpu = config.resolve("gpu", home: "/h")
        XCTAssertEqual(gpu.proxyJump, "bastion,login2")
        XCTAssertNil(gpu.proxyCommand, "ProxyJump came first, so ProxyCommand is ignored (ssh_config(5))")
        XCTAssertEqual(gpu.connectTimeout, 7)
        XCTAssertEqual(gpu.serverAliveInterval, 15)
        XCTAssertEqual(gpu.serverAliveCountMax, 4)
        XCTAssertEqual(gpu.identitiesOnly, true)
        XCTAssertEqual(config.resolve("cloud-a", home: "/h").proxyCommand, "cloudflared access ssh --hostname %h")
        XCTAssertNil(config.resolve("cloud-a", home: "/h").proxyJump)
    }

    func testMatchHostAgainstHostNameAndOriginalHost() {
        let config = SSHConfigFile(text: """
        Host gpu
          HostName node7.cluster.example
        Match host *.cluster.example
          User clusteruser
          ProxyJump login.cluster.example
        Match originalhost gpu
          Port 2222
        Match exec "true"
          User never
        Match all
          IdentityFile ~/.ssh/id_all
        """)
        let r = config.resolve("gpu", home: "/h")
        XCTAssertEqual(r.user, "clusteruser", "Match host sees the HostName set before it")
        XCTAssertEqual(r.proxyJump, "login.cluster.example")
        XCTAssertEqual(r.port, 2222)
        XCTAssertEqual(r.identityFile, "/h/.ssh/id_all")
        XCTAssertNil(config.resolve("other", home: "/h").user, "Match exec is not evaluated: it never applies")
    }

    func testIncludeReadsNamedFilesInPlace() {
        var asked: [String] = []
        let config = SSHConfigFile(text: """
        Include conf.d/*.conf
        Host gpu
          User fromMain
        """, include: { pattern in
            asked.append(pattern)
            return ["Host gpu\n  User fromInclude\n  Port 2200\n", "Include loop.conf\n"]
        })
        let r = config.resolve("gpu", home: "/h")
        XCTAssertEqual(r.user, "fromInclude", "an Include before the Host block comes first")
        XCTAssertEqual(r.port, 2200)
        XCTAssertEqual(asked.first, "conf.d/*.conf")
        XCTAssertEqual(asked.count, SSHConfigFile.maxIncludeDepth, "a file including itself stops at the depth limit")
    }
}
