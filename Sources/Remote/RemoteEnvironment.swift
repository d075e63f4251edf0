/// One Python environment found on a remote host (decisions.md, "Identity and shapes").
public struct RemoteEnvironment: Equatable, Sendable {
    public enum Kind: String, Sendable { case conda, venv, virtualenv, pyenv, system }

    /// Unique among the host's environments: as conda/pyenv/the folder name it, or the
    /// full prefix when two would share a name.
    public var name: String
    public var type: Kind
    /// The environment's prefix and interpreter.
    public var path: String
    public var pythonPath: String
    /// Bare number ("3.9.15"), or nil when nothing told it.
    public var pythonVersion: String?
    public var runicornVersion: String?
    /// RUNICORN_DIR, else Runicorn's own user_root_dir; nil without Runicorn.
    public var storageRoot: String?

    public var runicornInstalled: Bool { runicornVersion != nil }
}

/// What the detection found: the environments and Runicorn's per-user configuration.
public struct DetectionResult: Equatable, Sendable {
    public var environments: [RemoteEnvironment]
    /// user_root_dir from Runicorn's config.json (~/.config/runicorn), if set.
    public var userRootDir: String?
    /// RUNICORN_DIR in the remote login environment, if set.
    public var runicornDir: String?
    /// `viewer_port` from Runicorn's config.json, if set there (1...65535).
    public var configuredViewerPort: Int?

    /// Runicorn's own default viewer port (runicorn 0.7.2 cli.py: `--port` default 23300;
    /// its config.json names no port).
    public static let runicornDefaultViewerPort = 23300

    /// The port Runicorn's viewer is configured to use: config.json's, else its default.
    public var viewerPort: Int { configuredViewerPort ?? Self.runicornDefaultViewerPort }

    /// Reads the detection script's records; unknown lines are ignored.
    public static func parse(_ output: String) -> DetectionResult {
        var result = DetectionResult(environments: [], userRootDir: nil, runicornDir: nil, configuredViewerPort: nil)
        var realPaths = Set<String>()
        var names = Set<String>()
        for line in output.split(separator: "\n", omittingEmptySubsequences: true) {
            // Fields are trimmed of stray CRs (files written on Windows end lines with CRLF).
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map { field -> String in
                var s = String(field)
                while s.hasSuffix("\r") { s.removeLast() }
                return s
            }
            if f.first == "CFG", f.count >= 3 {
                result.runicornDir = f[1].isEmpty ? nil : f[1]
                result.userRootDir = f[2].isEmpty ? nil : f[2]
                result.configuredViewerPort = f.count >= 4 ? Int(f[3]).flatMap { (1...65535).contains($0) ? $0 : nil } : nil
                continue
            }
            guard f.first == "ENV", f.count >= 8, let kind = RemoteEnvironment.Kind(rawValue: f[1]) else { continue }
            // The same real prefix reached twice (symlinks, environments.txt) appears once.
            guard realPaths.insert(f[7]).inserted else { continue }
            let name = names.contains(f[2]) ? f[3] : f[2]
            names.insert(name)
            result.environments.append(RemoteEnvironment(
                name: name, type: kind, path: f[3], pythonPath: f[4], pythonVersion: bareVersion(f[5]),
                runicornVersion: f[6].isEmpty ? nil : f[6], storageRoot: nil))
        }
        let root = result.runicornDir ?? result.userRootDir
        for i in result.environments.indices where result.environments[i].runicornInstalled {
            result.environments[i].storageRoot = root
        }
        return result
    }

    /// "3.11.2.final.0" / "Python 3.9.15" / "3.12.0rc1" -> "3.11.2" / "3.9.15" / "3.12.0".
    static func bareVersion(_ text: String) -> String? {
        var s = Substring(text)
        if s.hasPrefix("Python ") { s = s.dropFirst(7) }
        let parts = s.prefix { $0.isNumber || $0 == "." }.split(separator: ".", omittingEmptySubsequences: false).prefix(3)
        guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        return parts.joined(separator: ".")
    }

    /// The environment with exactly this name; names never reach a shell.
    public func environment(named name: String) -> RemoteEnvironment? {
        environments.first { $0.name == name }
    }
}
