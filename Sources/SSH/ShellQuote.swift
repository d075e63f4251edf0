/// The single way a value reaches a remote shell: POSIX single quotes, with each
/// embedded `'` written as `'\''`. Inside single quotes sh interprets nothing
/// ($, `, \, ;, newlines, globs), so any byte string round-trips exactly.
public enum ShellQuote {
    public static func quote(_ value: String) -> String {
        var out = "'"
        out.reserveCapacity(value.utf8.count + 2)
        for ch in value.unicodeScalars {
            if ch == "'" { out += "'\\''" } else { out.unicodeScalars.append(ch) }
        }
        out += "'"
        return out
    }

    /// A command line from a program and its arguments, every one quoted.
    public static func command(_ words: [String]) -> String {
        words.map(quote).joined(separator: " ")
    }
}
