import Glibc

/// Whole small files (config, ledgers): read at once, replaced atomically. Blocking,
/// so only for files of a few KiB written on rare events (a viewer starts or stops).
public enum FileContents {
    /// The file's bytes, or nil when it cannot be opened.
    public static func read(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n > 0 { out.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count { break }
        }
        return out
    }

    /// Writes `text` to `path + ".tmp"` (mode `mode`), syncs it and renames it over
    /// `path`: a crash leaves the old file or the new one, never half of one.
    public static func replace(_ path: String, with text: String, mode: mode_t = 0o600) throws(SystemError) {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .call("open \(tmp)", errno) }
        let bytes = Array(text.utf8)
        var off = 0
        var failure: SystemError?
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { failure = .call("write \(tmp)", n < 0 ? errno : EIO); break }
            off += n
        }
        if failure == nil && fsync(fd) != 0 { failure = .call("fsync \(tmp)", errno) }
        close(fd)
        if failure == nil && rename(tmp, path) != 0 { failure = .call("rename \(tmp) \(path)", errno) }
        if let failure {
            unlink(tmp)
            throw failure
        }
    }
}
