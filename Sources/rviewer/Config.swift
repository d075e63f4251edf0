import Glibc
import HTTP1
import Reactor
import RemoteAPI
import SSH

/// The daemon's configuration: built-in defaults (the same as config/rviewer.json),
/// then the file, then command-line flags.
struct Config {
    var host = "127.0.0.1"
    /// 23300: the Remote Viewer API's documented base URL (remote_api.md).
    var port = 23300
    var stateDir = "~/.local/state/rviewer"
    var logLevel = "info"
    var http = HTTPLimits()
    /// Extra SSH sessions a tunnel may open during a burst of new clients (LanePolicy);
    /// 0 keeps every tunnel on its connection's own session.
    var tunnelExtraSessions = LanePolicy.defaultMaxExtraLanes
    /// What an unknown server's host key gets (decisions.md, "Host keys").
    var hostKeyPolicy = KnownHosts.Policy.acceptNew
    /// How long a second-factor challenge waits for its answers.
    var secondFactorTimeoutSeconds = SecondFactorLogin.challengeSeconds
    /// Serve other local users' processes too (decisions.md, "Same-user guard").
    var allowOtherUsers = false

    struct Error: Swift.Error, CustomStringConvertible {
        let description: String
    }

    /// Reads a config file; unknown keys and wrong types are errors, so a typo never
    /// silently leaves a default in place.
    mutating func load(path: String) throws {
        guard let bytes = FileContents.read(path) else { throw Error(description: "cannot read config file \(path)") }
        let json: JSON
        do { json = try JSONParser.parse(bytes) } catch {
            throw Error(description: "\(path): \(error)")
        }
        guard case .object(let top) = json else { throw Error(description: "\(path): top level must be an object") }
        for (key, value) in top {
            switch key {
            case "_comment": continue
            case "host": host = try string(value, key)
            case "port": port = try int(value, key, 0...65535)
            case "state_dir": stateDir = try string(value, key)
            case "log_level": logLevel = try string(value, key)
            case "http": try loadHTTP(value)
            case "tunnel_extra_sessions": tunnelExtraSessions = try int(value, key, 0...8)
            case "second_factor_timeout_seconds":
                secondFactorTimeoutSeconds = try int(value, key, 1...SecondFactorLogin.challengeSeconds)
            case "allow_other_users":
                guard case .bool(let b) = value else { throw Error(description: "\(path): 'allow_other_users' must be true or false") }
                allowOtherUsers = b
            case "host_key_policy":
                guard let policy = KnownHosts.Policy(rawValue: try string(value, key)) else {
                    throw Error(description: "\(path): 'host_key_policy' must be 'accept-new' or 'strict'")
                }
                hostKeyPolicy = policy
            default: throw Error(description: "\(path): unknown key '\(key)'")
            }
        }
    }

    private mutating func loadHTTP(_ value: JSON) throws {
        guard case .object(let members) = value else { throw Error(description: "'http' must be an object") }
        for (key, v) in members {
            let name = "http.\(key)"
            switch key {
            case "_comment": continue
            case "max_head_bytes": http.maxHeadBytes = try int(v, name, 1024...1 << 20)
            case "max_header_count": http.maxHeaderCount = try int(v, name, 8...10_000)
            case "max_body_bytes": http.maxBodyBytes = try int(v, name, 1024...64 << 20)
            case "request_timeout_ms": http.requestTimeoutMs = try int(v, name, 10...3_600_000)
            case "idle_timeout_ms": http.idleTimeoutMs = try int(v, name, 10...3_600_000)
            case "linger_timeout_ms": http.lingerTimeoutMs = try int(v, name, 0...60_000)
            case "shutdown_grace_ms": http.shutdownGraceMs = try int(v, name, 0...600_000)
            case "max_connections": http.maxConnections = try int(v, name, 1...1_000_000)
            case "output_high_watermark": http.outputHighWatermark = try int(v, name, 4096...64 << 20)
            case "output_low_watermark": http.outputLowWatermark = try int(v, name, 0...64 << 20)
            case "stream_output_limit": http.streamOutputLimit = try int(v, name, 4096...256 << 20)
            default: throw Error(description: "unknown key '\(name)'")
            }
        }
        guard http.outputLowWatermark < http.outputHighWatermark else {
            throw Error(description: "http.output_low_watermark must be below http.output_high_watermark")
        }
    }

    private func string(_ v: JSON, _ name: String) throws -> String {
        guard case .string(let s) = v, !s.isEmpty else { throw Error(description: "'\(name)' must be a non-empty string") }
        return s
    }

    private func int(_ v: JSON, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
        guard case .number(let d) = v, d == d.rounded(), d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
            throw Error(description: "'\(name)' must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(d)
    }
}

/// `~` and `~/...` expanded against $HOME.
func expandHome(_ path: String) -> String {
    guard path == "~" || path.hasPrefix("~/") else { return path }
    let home = getenv("HOME").map { String(cString: $0) } ?? "/"
    return home + path.dropFirst()
}

/// Creates `path` and its parents with mode 0700 (the state directory holds known_hosts).
func makePrivateDirectory(_ path: String) throws {
    var built = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        built += "/" + part
        if mkdir(built, 0o700) != 0 && errno != EEXIST {
            throw Config.Error(description: "cannot create \(built): \(String(cString: strerror(errno)))")
        }
    }
}

/// Locks `<dir>/lock` (flock, exclusive) for the daemon's life and writes its pid there.
/// Two daemons on one state directory would overwrite each other's known_hosts and
/// viewer ledger; the second is refused, naming the first. The kernel drops the lock
/// when the process ends, however it ends.
func lockStateDirectory(_ dir: String) throws -> Int32 {
    let path = dir + "/lock"
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw Config.Error(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
        let holder = FileContents.read(path).map { String(decoding: $0, as: UTF8.self).trimmingSpaces } ?? ""
        close(fd)
        throw Config.Error(description: "another rviewer\(holder.isEmpty ? "" : " (pid \(holder))") is using the state directory \(dir)")
    }
    let pid = "\(getpid())\n"
    _ = ftruncate(fd, 0)
    _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
    return fd
}

private extension String {
    var trimmingSpaces: String { String(filter { !$0.isWhitespace }) }
}
