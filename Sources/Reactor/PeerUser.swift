import CLinuxSys
import Glibc

/// Who owns the other end of a loopback TCP connection, from the kernel's socket
/// diagnostics (NETLINK_SOCK_DIAG / inet_diag) by the exact 4-tuple: one request and
/// its answer per accepted connection, on the loop thread, without blocking (the kernel
/// answers within the send). decisions.md, "Same-user guard".
public final class PeerUser {
    /// One netlink socket for the process, used on the loop thread only.
    nonisolated(unsafe) public static let shared = PeerUser()
    private var netlink: Int32 = -1

    /// The peer's uid; nil when the kernel does not say (not loopback TCP, or gone).
    public func uid(of fd: Int32) -> uid_t? {
        if netlink < 0 { netlink = csys_sock_diag_open() }
        guard netlink >= 0 else { return nil }
        var uid: UInt32 = 0
        return csys_peer_uid(netlink, fd, &uid) == 0 ? uid_t(uid) : nil
    }
}

/// The same-user guard: only processes of the daemon's own user get in, unless
/// `allowOtherUsers` (config `allow_other_users`). An owner the kernel cannot tell is
/// refused.
public struct SameUserGuard: Sendable {
    public var allowOtherUsers: Bool
    public let uid: uid_t

    public init(allowOtherUsers: Bool, uid: uid_t = geteuid()) {
        self.allowOtherUsers = allowOtherUsers
        self.uid = uid
    }

    public func admits(_ fd: Int32) -> Bool {
        allowOtherUsers || PeerUser.shared.uid(of: fd) == uid
    }
}
