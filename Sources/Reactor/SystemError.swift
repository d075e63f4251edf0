import Glibc

/// A failed system call, with its errno and strerror text.
public struct SystemError: Error, CustomStringConvertible {
    public let call: String
    public let errno: Int32

    public static func call(_ name: String, _ code: Int32) -> SystemError {
        SystemError(call: name, errno: code)
    }

    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}
