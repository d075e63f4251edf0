/// Which environment `rviewer open` starts the viewer in when the user names none
/// (decisions.md, "CLI"): one with Runicorn; of several, the newest Runicorn, ties by name.
public enum EnvironmentChoice {
    public struct Candidate: Equatable, Sendable {
        public let name: String
        public let runicornInstalled: Bool
        public let runicornVersion: String?

        public init(name: String, runicornInstalled: Bool, runicornVersion: String?) {
            self.name = name
            self.runicornInstalled = runicornInstalled
            self.runicornVersion = runicornVersion
        }
    }

    public enum Verdict: Equatable, Sendable {
        case use(String)
        /// The named environment is not among those detected.
        case notFound(String)
        /// No environment has Runicorn.
        case noneWithRunicorn
    }

    public static func pick(_ candidates: [Candidate], named: String? = nil) -> Verdict {
        if let named {
            return candidates.contains { $0.name == named } ? .use(named) : .notFound(named)
        }
        let usable = candidates.filter(\.runicornInstalled)
        guard let best = usable.min(by: { a, b in
            let order = compare(a.runicornVersion, b.runicornVersion)
            return order != 0 ? order > 0 : a.name < b.name   // newer first, then by name
        }) else { return .noneWithRunicorn }
        return .use(best.name)
    }

    /// Compares dotted versions numerically ("0.10.1" > "0.9.3"); a missing version is oldest.
    /// Returns -1, 0 or 1.
    public static func compare(_ a: String?, _ b: String?) -> Int {
        guard let a, let b else { return a == nil ? (b == nil ? 0 : -1) : 1 }
        let x = parts(a), y = parts(b)
        for i in 0..<max(x.count, y.count) {
            let p = i < x.count ? x[i] : 0, q = i < y.count ? y[i] : 0
            if p != q { return p < q ? -1 : 1 }
        }
        return 0
    }

    private static func parts(_ version: String) -> [Int] {
        version.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
    }
}
