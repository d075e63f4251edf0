import ArgumentParser
import Glibc

/// How a client command ends when it fails: its message goes to stderr and the exit
/// status says what kind of failure it was (docs/USAGE.md, "Exit status"; the
/// numbering follows `gh`: 1 error, 2 cancelled, 4 login needed).
enum CLIError: Error, CustomStringConvertible {
    /// The daemon answered with an error: its code and message, verbatim.
    case api(code: String, message: String)
    case unreachable(String)
    case loginFailed(String)
    case cancelled(String)
    case usage(String)

    var exitCode: Int32 {
        switch self {
        case .api: return 1
        case .cancelled: return 2
        case .unreachable: return 3
        case .loginFailed: return 4
        case .usage: return 64   // EX_USAGE, as swift-argument-parser's own usage errors
        }
    }

    var description: String {
        switch self {
        case .api(let code, let message): return "\(message) (\(code))"
        case .unreachable(let m), .loginFailed(let m), .cancelled(let m), .usage(let m): return m
        }
    }

    init(_ answer: APIClient.Answer) {
        switch answer.error {
        case "authentication_failed": self = .loginFailed("\(answer.message) (authentication_failed)")
        default: self = .api(code: answer.error, message: answer.message)
        }
    }
}

/// The terminal side of a client command: progress on stderr, questions on /dev/tty.
enum Terminal {
    /// One progress line on stderr: the step and how long it took.
    static func progress(_ step: String, since start: Double) {
        let seconds = (now() - start)
        fputs(String(format: "%@ (%.2f s)\n", step, seconds), stderr)
    }

    static func note(_ text: String) { fputs(text + "\n", stderr) }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Asks on the terminal (never from arguments or a pipe); without echo for secrets
    /// (OpenSSH's readpassphrase: echo off on /dev/tty, restored after, even on error).
    /// Echo changes take effect at once (TCSANOW): what was typed ahead is kept, not flushed.
    static func ask(_ prompt: String, secret: Bool) throws -> String {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError.cancelled("\(prompt.trimmingCharacters()) needs a terminal to answer on") }
        defer { close(fd) }
        _ = prompt.withCString { write(fd, $0, strlen($0)) }
        var saved = termios()
        let hasTermios = tcgetattr(fd, &saved) == 0
        if secret && hasTermios {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(fd, TCSANOW, &quiet)
        }
        defer {
            if secret && hasTermios {
                tcsetattr(fd, TCSANOW, &saved)
                _ = write(fd, "\n", 1)
            }
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != 10 { line.append(byte) }
        return String(decoding: line, as: UTF8.self)
    }

    static var stdinIsTerminal: Bool { isatty(0) == 1 }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}
