import Foundation
import Glibc
import XCTest

/// The real rviewer binary, started on a free loopback port with its own config and
/// state directory, stopped with a signal. Tests talk to it over real sockets.
final class DaemonProcess {
    private var process: ChildProcess!
    let port: Int
    let directory: URL
    let stderrURL: URL
    /// Where the daemon keeps its state (known_hosts, the viewer ledger).
    let stateDirectory: String

    /// The built `rviewer` next to the test bundle (both live in .build/<config>/).
    static var binary: URL {
        if let env = ProcessInfo.processInfo.environment["RVIEWER_BIN"] { return URL(fileURLWithPath: env) }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("rviewer")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/rviewer")
    }

    /// `http` holds overrides of config/rviewer.json's "http" section.
    /// `environment` entries replace the daemon's (HOME, SSH_AUTH_SOCK for the SSH tests).
    /// `settings` adds top-level config keys (JSON values as text).
    /// `stateDirectory`: another daemon's (a restart of it); its own by default.
    /// `wrapper`: a command line the daemon's own is appended to (e.g. `unshare -m sh -c ...`).
    init(http: [String: Int] = [:], settings: [String: String] = [:], extraArgs: [String] = [],
         environment: [String: String] = [:], stateDirectory: String? = nil, wrapper: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rviewer-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.stateDirectory = stateDirectory ?? directory.appendingPathComponent("state").path
        let httpJSON = http.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        let config = directory.appendingPathComponent("rviewer.json")
        let extra = settings.map { ", \"\($0.key)\": \($0.value)" }.joined()
        try "{\"host\": \"127.0.0.1\", \"port\": 0, \"log_level\": \"debug\", \"http\": {\(httpJSON)}\(extra)}".write(to: config, atomically: true, encoding: .utf8)
        let stdoutURL = directory.appendingPathComponent("stdout")
        stderrURL = directory.appendingPathComponent("stderr")
        var env = ProcessInfo.processInfo.environment
        env["SSH_AUTH_SOCK"] = nil
        for (k, v) in environment { env[k] = v }
        let command = wrapper + [Self.binary.path, "serve", "--config", config.path, "--state-dir", self.stateDirectory] + extraArgs
        process = try ChildProcess(command[0], Array(command.dropFirst()),
                                   environment: env, stdout: stdoutURL.path, stderr: stderrURL.path)
        var found: Int?
        let deadline = Date().addingTimeInterval(15)
        while found == nil && Date() < deadline && process.isRunning {
            if let text = try? String(contentsOf: stdoutURL, encoding: .utf8),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("rviewer listening on") }),
               let p = line.split(separator: ":").last.flatMap({ Int($0) }) {
                found = p
            } else {
                usleep(20_000)
            }
        }
        guard let found else {
            process.kill9()
            let stderr = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: directory)   // no deinit for an object never made
            throw NSError(domain: "DaemonProcess", code: 1, userInfo: [NSLocalizedDescriptionKey: "daemon did not start: \(stderr)"])
        }
        port = found
    }

    var pid: Int32 { process.pid }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// CPU seconds (user + system) the daemon has used, from /proc; throws when that
    /// cannot be read (a made-up value would satisfy the checks that use it).
    func cpuSeconds() throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw NSError(domain: "DaemonProcess", code: 2, userInfo: [NSLocalizedDescriptionKey: "no CPU times in /proc/\(pid)/stat: \(stat)"])
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Threads of the daemon process, from /proc; throws when that cannot be read.
    func threadCount() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("Threads:") } ?? ""
        guard let count = Int(line.split(separator: "\t").last ?? "") else {
            throw NSError(domain: "DaemonProcess", code: 3, userInfo: [NSLocalizedDescriptionKey: "no thread count in /proc/\(pid)/status"])
        }
        return count
    }

    /// Sends `signal` and waits for exit; returns the exit status, nil on timeout.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 15) -> Int32? {
        guard process.isRunning else { return process.exitStatus }
        process.signal(signal)
        if let status = process.wait(timeout: timeout) { return status }
        process.kill9()
        return nil
    }

    deinit {
        process?.kill9()
        try? FileManager.default.removeItem(at: directory)
    }

    func client(timeout: TimeInterval = 10) throws -> RawClient { try RawClient(port: port, timeout: timeout) }

    /// Polls GET /api/remote/connections until the first connection's status is `wanted`
    /// or `timeout` passes; returns the last status seen.
    func waitForFirstConnectionStatus(_ wanted: String, timeout: TimeInterval) throws -> String {
        var status = ""
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let list = try request("GET", "/api/remote/connections").json
            status = ((list?["connections"] as? [[String: Any]])?.first?["status"] as? String) ?? ""
            if status == wanted { break }
            usleep(50_000)
        }
        return status
    }

    /// One request on a fresh connection; the body, if any, is JSON.
    /// `GET /metrics` read as name -> value (the Prometheus text format's sample lines).
    func metrics() throws -> [String: Double] {
        let r = try request("GET", "/metrics")
        guard r.status == 200 else { throw NSError(domain: "DaemonProcess", code: 4, userInfo: [NSLocalizedDescriptionKey: "GET /metrics: \(r.status) \(r.text)"]) }
        var samples: [String: Double] = [:]
        for line in r.text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = Double(parts[1]) { samples[String(parts[0])] = v }
        }
        return samples
    }

    func request(_ method: String, _ path: String, json: [String: Any]? = nil, timeout: TimeInterval = 60) throws -> RawClient.Response {
        let client = try client(timeout: timeout)
        var body = ""
        if let json { body = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self) }
        let head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n"
            + (json == nil ? "" : "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n") + "\r\n"
        try client.send(head + body)
        let response = try client.readResponse()
        for problem in OpenAPIConformance.problems(method: method, target: path, status: response.status, body: response.body, from: self) {
            XCTFail("OpenAPI: \(problem)")
        }
        return response
    }
}

/// A blocking loopback TCP client that writes exact bytes and reads HTTP responses.
final class RawClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    struct Response {
        let status: Int
        let headers: [String: String]
        let body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
    }

    struct Closed: Error {}

    init(port: Int, timeout: TimeInterval) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - floor(timeout)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw NSError(domain: "RawClient", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "connect: errno \(errno)"])
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Closed() }
            off += n
        }
    }

    /// A GET with the headers a normal client sends.
    func get(_ path: String, keepAlive: Bool = true) throws -> Response {
        try send("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\(keepAlive ? "" : "Connection: close\r\n")\r\n")
        return try readResponse()
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        guard n > 0 else { throw Closed() }
        buffer.append(contentsOf: chunk[0..<n])
    }

    func readResponse() throws -> Response {
        let sep: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if buffer.count >= 4 {
                headEnd = (0...(buffer.count - 4)).first { Array(buffer[$0..<$0 + 4]) == sep }
            }
            if headEnd == nil { try fill() }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let start = headEnd! + 4
        while buffer.count < start + length { try fill() }
        let body = Array(buffer[start..<start + length])
        buffer.removeFirst(start + length)
        return Response(status: Int(statusLine[1]) ?? 0, headers: headers, body: body)
    }

    /// True when the server closes the connection (EOF or reset) within the receive timeout.
    func waitForClose() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }
}
