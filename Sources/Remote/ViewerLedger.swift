import Glibc
import Reactor

/// One viewer this daemon started and has not stopped: enough to find it on its server
/// again and to take it back (the process, its port, its directory).
public struct ViewerRecord: Equatable, Sendable {
    public var id: String
    /// The connection's destination, as the user named it.
    public var host: String
    public var port: Int
    public var username: String
    public var envName: String
    public var pid: Int
    public var remotePort: Int
    public var directory: String
    /// The local port its URL used: taken again when it is free.
    public var localPort: Int
    public var startedAt: String
    /// `startedAt` in seconds since the epoch (for the uptime of a viewer taken back).
    public var startedEpoch: Int

    public init(id: String, host: String, port: Int, username: String, envName: String, pid: Int, remotePort: Int,
                directory: String, localPort: Int, startedAt: String, startedEpoch: Int) {
        self.id = id
        self.host = host
        self.port = port
        self.username = username
        self.envName = envName
        self.pid = pid
        self.remotePort = remotePort
        self.directory = directory
        self.localPort = localPort
        self.startedAt = startedAt
        self.startedEpoch = startedEpoch
    }

    func belongs(host: String, port: Int, username: String) -> Bool {
        self.host == host && self.port == port && self.username == username
    }
}

/// The viewers the daemon started and has not stopped. A daemon that dies without
/// stopping them (killed, crashed, the laptop powered off) leaves them running on their
/// servers; kept in a file, this list lets the next run take each back when its server
/// and user are connected again, instead of leaving it running unknown to anyone.
///
/// The text form is one header line, then one record per line: tab-separated fields,
/// `%`, tab, CR and LF percent-escaped. A line that does not parse is skipped and counted.
public struct ViewerLedger: Equatable {
    public private(set) var records: [ViewerRecord] = []

    static let header = "rviewer viewers v1"
    static let fieldCount = 11
    /// More than any user runs: a file grown past this is not ours to trust.
    static let maxRecords = 1_000

    public init() {}

    /// Adds the record, or replaces the one with its id.
    public mutating func upsert(_ record: ViewerRecord) {
        if let i = records.firstIndex(where: { $0.id == record.id }) { records[i] = record; return }
        if records.count < Self.maxRecords { records.append(record) }
    }

    /// Forgets the viewer; false when it was not recorded.
    @discardableResult
    public mutating func remove(id: String) -> Bool {
        guard let i = records.firstIndex(where: { $0.id == id }) else { return false }
        records.remove(at: i)
        return true
    }

    /// The recorded viewers on this destination that no viewer of this run holds.
    public func unclaimed(host: String, port: Int, username: String, held: Set<String>) -> [ViewerRecord] {
        records.filter { $0.belongs(host: host, port: port, username: username) && !held.contains($0.id) }
    }

    public func encoded() -> String {
        var out = Self.header + "\n"
        for r in records {
            let fields = [r.id, r.host, String(r.port), r.username, r.envName, String(r.pid), String(r.remotePort),
                          r.directory, String(r.localPort), r.startedAt, String(r.startedEpoch)]
            out += fields.map(Self.escape).joined(separator: "\t") + "\n"
        }
        return out
    }

    /// The records of `text`, and how many lines were rejected (a foreign or damaged file
    /// rejects everything rather than guessing).
    public static func decode(_ text: String) -> (ledger: ViewerLedger, rejected: Int) {
        var ledger = ViewerLedger()
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let first = lines.first else { return (ledger, 0) }
        guard first == Self.header else { return (ledger, lines.count) }
        lines.removeFirst()
        var rejected = 0
        for line in lines {
            if let record = parse(line), ledger.records.count < maxRecords { ledger.upsert(record) } else { rejected += 1 }
        }
        return (ledger, rejected)
    }

    private static func parse(_ line: Substring) -> ViewerRecord? {
        let f = line.split(separator: "\t", omittingEmptySubsequences: false).map { unescape($0) }
        guard f.count == fieldCount, let id = f[0], isViewerID(id), let host = f[1], !host.isEmpty,
              let port = f[2].flatMap({ Int($0) }), (1...65535).contains(port),
              let user = f[3], !user.isEmpty, let env = f[4], !env.isEmpty,
              let pid = f[5].flatMap({ Int($0) }), pid > 1,
              let remotePort = f[6].flatMap({ Int($0) }), (1...65535).contains(remotePort),
              let dir = f[7], dir.hasPrefix("/"), let localPort = f[8].flatMap({ Int($0) }), (0...65535).contains(localPort),
              let startedAt = f[9], let epoch = f[10].flatMap({ Int($0) }), epoch >= 0 else { return nil }
        return ViewerRecord(id: id, host: host, port: port, username: user, envName: env, pid: pid, remotePort: remotePort,
                            directory: dir, localPort: localPort, startedAt: startedAt, startedEpoch: epoch)
    }

    /// `viewer_` and 8 lowercase hex digits, as rviewer names them.
    static func isViewerID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 15, s.hasPrefix("viewer_") else { return false }
        return u[7...].allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "%": out += "%25"
            case "\t": out += "%09"
            case "\n": out += "%0A"
            case "\r": out += "%0D"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// nil for a malformed escape or a NUL (no field of ours holds one).
    static func unescape(_ s: Substring) -> String? {
        var bytes: [UInt8] = []
        var u = s.utf8.makeIterator()
        while let b = u.next() {
            guard b == UInt8(ascii: "%") else { bytes.append(b); continue }
            guard let h = u.next(), let l = u.next(), let hi = hexValue(h), let lo = hexValue(l) else { return nil }
            bytes.append(hi << 4 | lo)
        }
        if bytes.contains(0) { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }
}

/// The ledger kept in a file (mode 0600 in the daemon's private state directory),
/// rewritten whole through a temporary file and rename, so a crash leaves the old or
/// the new list, never half of one.
public final class ViewerLedgerFile {
    public let path: String
    public private(set) var ledger: ViewerLedger
    /// Lines of the file found at start that did not parse (for the daemon's log).
    public let rejectedAtLoad: Int
    /// The last save's failure, if it failed; nil after a success.
    public private(set) var lastError: String?
    /// Saves that failed since the daemon started (for the metrics).
    public private(set) var saveFailures: UInt64 = 0
    /// Told when a save fails (the daemon logs it; the list in memory stays right).
    public var onSaveFailed: ((String) -> Void)?

    /// Ids of the viewers recorded when the file was read at start (an earlier run's);
    /// the others were launched by this run.
    public let loadedIDs: Set<String>

    public init(path: String) {
        self.path = path
        let (ledger, rejected) = ViewerLedger.decode(FileContents.read(path).map { String(decoding: $0, as: UTF8.self) } ?? "")
        self.ledger = ledger
        self.rejectedAtLoad = rejected
        self.loadedIDs = Set(ledger.records.map(\.id))
    }

    /// Where a recorded viewer came from, for the daemon's log.
    public func origin(of id: String) -> String {
        loadedIDs.contains(id) ? "from an earlier run" : "kept by an earlier connection of this run"
    }

    public func upsert(_ record: ViewerRecord) {
        let before = ledger
        ledger.upsert(record)
        if ledger != before { save() }
    }

    public func remove(id: String) {
        if ledger.remove(id: id) { save() }
    }

    private func save() {
        do {
            try FileContents.replace(path, with: ledger.encoded(), mode: 0o600)
            lastError = nil
        } catch {
            lastError = "\(error)"
            saveFailures += 1
            onSaveFailed?("\(error)")
        }
    }
}
