import Glibc
import Reactor

/// The files an `Include` line of ~/.ssh/config names: relative paths are under ~/.ssh,
/// `~` is the home, wildcards expand (glob(3), sorted, as ssh does).
enum SSHConfigIncludes {
    /// Files read per Include pattern at most; an Include of `*` in a big folder stops here.
    static let maxFiles = 64

    static func read(_ pattern: String, home: String) -> [String] {
        var path = pattern
        if path.hasPrefix("~/") { path = home + path.dropFirst() } else if !path.hasPrefix("/") { path = home + "/.ssh/" + path }
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(path, 0, nil, &g) == 0 else { return [] }
        var texts: [String] = []
        for i in 0..<min(Int(g.gl_pathc), maxFiles) {
            guard let p = g.gl_pathv[i], let bytes = FileContents.read(String(cString: p)) else { continue }
            texts.append(String(decoding: bytes, as: UTF8.self))
        }
        return texts
    }
}
