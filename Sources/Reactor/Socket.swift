import CLinuxSys
import Glibc

/// Thin non-blocking socket calls on raw fds. Every socket rviewer owns is
/// non-blocking, close-on-exec and has TCP_NODELAY (notes: "The 40 ms trap").
public enum Socket {
    public enum IOResult: Equatable {
        case bytes(Int)
        case wouldBlock
        case eof
        case error(Int32)
    }

    /// A listening TCP socket on a numeric address (IPv4 or IPv6); port 0 picks one.
    public static func listen(host: String, port: Int, backlog: Int32) throws -> Int32 {
        let family: Int32 = host.contains(":") ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.call("socket", errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc: Int32
        if family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &addr.sin6_addr) == 1 else {
                close(fd)
                throw SystemError.call("inet_pton(\(host))", EINVAL)
            }
            rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
                close(fd)
                throw SystemError.call("inet_pton(\(host))", EINVAL)
            }
            rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw SystemError.call("bind \(host):\(port)", e)
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            close(fd)
            throw SystemError.call("listen", e)
        }
        return fd
    }

    /// The local port a socket is bound to.
    public static func localPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { ptr -> Int in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &len) }
            if Int32(ptr.pointee.ss_family) == AF_INET6 {
                return ptr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return ptr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .eof }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .error(errno)
            }
        }
    }

    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> IOResult {
        while true {
            let n = send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .error(errno)
            }
        }
    }

    public static func shutdownWrite(_ fd: Int32) { _ = shutdown(fd, Int32(SHUT_WR)) }

    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }
}

extension Socket {
    /// Starts a non-blocking connect; `.wouldBlock` means wait for writable, then `connectResult`.
    public static func connect(to address: SocketAddress) throws -> (fd: Int32, result: IOResult) {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.call("socket", errno) }
        setNoDelay(fd)
        var storage = address.storage
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, address.length) }
        }
        if rc == 0 { return (fd, .bytes(0)) }
        if errno == EINPROGRESS { return (fd, .wouldBlock) }
        return (fd, .error(errno))
    }

    /// The outcome of a non-blocking connect once the socket became writable (SO_ERROR).
    public static func connectError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }

    /// TCP keepalive so a silently vanished peer errors the socket (idle 30 s,
    /// then 3 probes 10 s apart: ssh's ServerAliveInterval-like 60 s bound). Keepalive
    /// probes only run on an idle connection; with data in flight the kernel would
    /// retransmit for ~15 minutes (tcp_retries2), so TCP_USER_TIMEOUT bounds
    /// unacknowledged data by the same 60 s (RFC 5482).
    public static func setKeepAlive(_ fd: Int32, idle: Int32 = 30, interval: Int32 = 10, count: Int32 = 3) {
        var one: Int32 = 1, i = idle, iv = interval, c = count
        var userTimeoutMs = UInt32(idle + interval * count) * 1000
        let size = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &i, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &iv, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &c, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_USER_TIMEOUT, &userTimeoutMs, socklen_t(MemoryLayout<UInt32>.size))
    }

    /// Re-arms quick ACKs (the kernel drops back to delayed ACKs on its own); see
    /// "The 40 ms trap" in shared/notes/peers.md.
    public static func setQuickAck(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_QUICKACK, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    public static func shutdownBoth(_ fd: Int32) { _ = shutdown(fd, Int32(SHUT_RDWR)) }
}
