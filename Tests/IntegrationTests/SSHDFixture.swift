import Foundation
import Glibc
import XCTest

/// A real OpenSSH sshd on a loopback port with its own host key, config and
/// authorized_keys in a temp dir, plus user keys, an ssh-agent and (when the tests
/// run as root) a test user with a password. No mocks: the daemon talks to this.
final class SSHDFixture {
    let dir: URL
    let port: Int
    let home: URL
    private(set) var process: ChildProcess?
    private var privatePAM = false
    private var agent: ChildProcess?
    var agentSocket: String { dir.appendingPathComponent("agent.sock").path }
    /// The user the key tests log in as (this process's user).
    let user: String = String(cString: getpwuid(getuid())!.pointee.pw_name)
    static let passwordUser = "rviewer-test"
    /// Random per run; set only when running as root.
    private(set) var password: String?
    let passphrase = "pass-\(UUID().uuidString.prefix(8))"

    var ed25519Key: String { dir.appendingPathComponent("id_ed25519").path }
    var encryptedECDSAKey: String { dir.appendingPathComponent("id_ecdsa_enc").path }
    var rsaKey: String { dir.appendingPathComponent("id_rsa").path }
    var strangerKey: String { dir.appendingPathComponent("id_stranger").path }
    var hostKey: String { dir.appendingPathComponent("host_ed25519").path }

    /// `extraConfig` lines come first in sshd_config, so they override the defaults below
    /// (sshd keeps the first value it reads for a keyword).
    /// `pam`: a PAM stack for sshd's service, used in a private mount namespace (bound
    /// over /etc/pam.d/sshd there only: the machine's own PAM setup is untouched).
    init(extraConfig: [String] = [], pam: String? = nil) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("rviewer-sshd-\(UUID().uuidString.prefix(8))")
        home = dir.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home.appendingPathComponent(".ssh"), withIntermediateDirectories: true)
        port = try SSHDFixture.freePort()
        try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey])
        try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "rviewer-test", "-f", ed25519Key])
        try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "ecdsa", "-b", "256", "-N", passphrase, "-C", "rviewer-test-enc", "-f", encryptedECDSAKey])
        try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-C", "rviewer-test-rsa", "-f", rsaKey])
        try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "not-authorized", "-f", strangerKey])
        let authorized = try [ed25519Key, encryptedECDSAKey, rsaKey].map { try String(contentsOfFile: $0 + ".pub", encoding: .utf8) }.joined()
        try authorized.write(to: dir.appendingPathComponent("authorized_keys"), atomically: true, encoding: .utf8)
        if getuid() == 0 {
            let pw = "pw-\(UUID().uuidString)"
            if getpwnam(SSHDFixture.passwordUser) == nil {
                try SSHDFixture.run("/usr/sbin/useradd", ["-m", "-s", "/bin/sh", SSHDFixture.passwordUser])
            }
            try SSHDFixture.run("/usr/sbin/chpasswd", [], input: "\(SSHDFixture.passwordUser):\(pw)\n")
            password = pw
        }
        let config = extraConfig + [
            "Port \(port)", "ListenAddress 127.0.0.1", "HostKey \(hostKey)",
            "AuthorizedKeysFile \(dir.appendingPathComponent("authorized_keys").path)",
            "PidFile \(dir.appendingPathComponent("sshd.pid").path)",
            "StrictModes no", "UsePAM yes", "PermitRootLogin yes", "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no", "MaxStartups 200", "MaxSessions 50",
            // DEBUG1: sshd logs each channel open ("server_input_channel_open: ctype session"),
            // which the tests count.
            "LogLevel DEBUG1",
        ]
        try config.joined(separator: "\n").appending("\n").write(to: dir.appendingPathComponent("sshd_config"), atomically: true, encoding: .utf8)
        if let pam { try pam.write(to: dir.appendingPathComponent("pam-sshd"), atomically: true, encoding: .utf8) }
        privatePAM = pam != nil
        try start()
    }

    func start() throws {
        mkdir("/run/sshd", 0o755)
        let sshd = ["/usr/sbin/sshd", "-D", "-f", dir.appendingPathComponent("sshd_config").path,
                    "-E", dir.appendingPathComponent("sshd.log").path]
        let p = privatePAM
            ? try ChildProcess("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c",
                                                    "mount --bind \(SSHDFixture.quote(dir.appendingPathComponent("pam-sshd").path)) /etc/pam.d/sshd && exec "
                                                        + sshd.map(SSHDFixture.quote).joined(separator: " ")],
                               environment: ProcessInfo.processInfo.environment)
            : try ChildProcess(sshd[0], Array(sshd.dropFirst()), environment: ProcessInfo.processInfo.environment)
        process = p
        // Ready when the port accepts.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if SSHDFixture.canConnect(port) { return }
            guard p.isRunning else { break }
            usleep(20_000)
        }
        throw NSError(domain: "SSHDFixture", code: 1, userInfo: [NSLocalizedDescriptionKey: "sshd did not start: \(log)"])
    }

    /// Stops the listener and every session it spawned (the live connections die too).
    func stop() {
        guard let p = process, p.isRunning else { return }
        _ = try? SSHDFixture.run("/usr/bin/pkill", ["-TERM", "-P", String(p.pid)], allowFailure: true)
        p.signal(SIGTERM)
        if p.wait(timeout: 10) == nil { p.kill9() }
        process = nil
    }

    /// Kills every live session (both sshd processes of each) and keeps the listener: a
    /// dropped network link, as the client sees it.
    func dropSessions() {
        guard let p = process, p.isRunning else { return }
        // Each session is a privileged monitor (the listener's child) and, for a user other
        // than root, an unprivileged child of that monitor holding the socket too.
        let monitors = ((try? SSHDFixture.run("/usr/bin/pgrep", ["-P", String(p.pid)], allowFailure: true)) ?? "")
            .split(separator: "\n").map(String.init)
        for m in monitors { _ = try? SSHDFixture.run("/usr/bin/pkill", ["-KILL", "-P", m], allowFailure: true) }
        for m in monitors { _ = try? SSHDFixture.run("/bin/kill", ["-KILL", m], allowFailure: true) }
    }

    /// Logins sshd accepted so far.
    var acceptedLogins: Int { log.components(separatedBy: "Accepted ").count - 1 }

    /// Replaces the host key (a "reinstalled server") and restarts.
    func restartWithNewHostKey() throws {
        stop()
        try? FileManager.default.removeItem(atPath: hostKey)
        try? FileManager.default.removeItem(atPath: hostKey + ".pub")
        try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey])
        try start()
    }

    /// The SHA256 fingerprint of the current host key, as ssh-keygen prints it.
    func hostKeyFingerprint() throws -> String {
        let out = try SSHDFixture.run("/usr/bin/ssh-keygen", ["-l", "-E", "sha256", "-f", hostKey + ".pub"])
        return String(out.split(separator: " ")[1])
    }

    func startAgent(keys: [String]) throws {
        agent = try ChildProcess("/usr/bin/ssh-agent", ["-D", "-a", agentSocket], environment: ProcessInfo.processInfo.environment)
        let deadline = Date().addingTimeInterval(5)
        while !FileManager.default.fileExists(atPath: agentSocket) && Date() < deadline { usleep(10_000) }
        for key in keys {
            try SSHDFixture.run("/usr/bin/ssh-add", ["-q", key], environment: ["SSH_AUTH_SOCK": agentSocket])
        }
    }

    /// Channel opens of type "session" sshd has logged so far (exec channels, pings, warm channels).
    var sessionChannelOpens: Int { log.components(separatedBy: "server_input_channel_open: ctype session").count - 1 }

    var log: String { (try? String(contentsOf: dir.appendingPathComponent("sshd.log"), encoding: .utf8)) ?? "" }

    deinit {
        stop()
        agent?.kill9()
        try? FileManager.default.removeItem(at: dir)
    }

    // MARK: helpers

    static func freePort() throws -> Int {
        let (fd, port) = listenLoopback(backlog: 1)
        close(fd)
        return port
    }

    /// A listening TCP socket on 127.0.0.1: `port`, or a free one.
    static func listenLoopback(backlog: Int32, port: Int = 0) -> (fd: Int32, port: Int) {
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, len) } }
        listen(sock, backlog)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sock, $0, &len) } }
        return (sock, Int(UInt16(bigEndian: addr.sin_port)))
    }

    static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// Runs a command through /bin/sh (popen; Foundation's Process can miss a fast
    /// child's exit) and returns its combined output; throws on a non-zero exit.
    /// `limit` bounds it in seconds (coreutils `timeout`): a stuck command fails the
    /// test that needed it instead of hanging the suite.
    @discardableResult
    static func run(_ path: String, _ args: [String], input: String? = nil, environment: [String: String] = [:],
                    allowFailure: Bool = false, limit: Int = 120) throws -> String {
        var line = environment.map { "\($0.key)=\(quote($0.value)) " }.joined()
        line += "timeout -k 5 \(limit) " + ([path] + args).map(quote).joined(separator: " ")
        if let input { line = "printf '%s' \(quote(input)) | " + line }
        guard let f = popen(line + " 2>&1", "r") else { throw NSError(domain: "SSHDFixture", code: 1) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { out += buf[0..<n] }
            if n < buf.count { break }
        }
        let status = pclose(f)
        let text = String(decoding: out, as: UTF8.self)
        if status != 0 && !allowFailure {
            throw NSError(domain: "SSHDFixture", code: Int(status),
                          userInfo: [NSLocalizedDescriptionKey: "\(path) \(args.joined(separator: " ")): \(text)"])
        }
        return text
    }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// A loopback listener that accepts and never speaks (the 408 case).
final class SilentListener {
    let fd: Int32
    let port: Int

    init() throws {
        (fd, port) = SSHDFixture.listenLoopback(backlog: 16)
    }

    deinit {
        close(fd)
    }
}
