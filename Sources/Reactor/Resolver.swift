import CLinuxSys
import Glibc

/// A resolved TCP endpoint, ready for connect(2).
public struct SocketAddress: Sendable, CustomStringConvertible {
    public let family: Int32
    public let storage: sockaddr_storage
    public let length: socklen_t

    public init(family: Int32, storage: sockaddr_storage, length: socklen_t) {
        self.family = family
        self.storage = storage
        self.length = length
    }

    public var description: String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        var s = storage
        let port: UInt16 = withUnsafePointer(to: &s) { ptr in
            if family == AF_INET6 {
                return ptr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    var a = p.pointee.sin6_addr
                    inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
                    return UInt16(bigEndian: p.pointee.sin6_port)
                }
            }
            return ptr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                var a = p.pointee.sin_addr
                inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
                return UInt16(bigEndian: p.pointee.sin_port)
            }
        }
        let host = String(cString: buf)
        return family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Host name lookups off the loop: getaddrinfo blocks, so it runs on one helper
/// thread and the answer is posted back to the loop through its eventfd
/// (libuv's thread pool + uv_async, notes §3.9). IP literals skip the thread.
public final class Resolver: @unchecked Sendable {
    public enum Failure: Error, Equatable, Sendable {
        case notFound(String)
    }
    public typealias Completion = (Result<[SocketAddress], Failure>) -> Void

    private unowned let loop: EventLoop
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var queue: [(host: String, port: Int, done: Completion)] = []
    private var thread: pthread_t?

    public init(loop: EventLoop) {
        self.loop = loop
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    /// Resolves `host:port`; `done` runs on the loop thread.
    public func resolve(host: String, port: Int, _ done: @escaping Completion) {
        if let literal = Resolver.lookup(host: host, port: port, numericOnly: true), case .success = literal {
            loop.runBeforeSleep { done(literal) }
            return
        }
        pthread_mutex_lock(&mutex)
        queue.append((host, port, done))
        startThreadIfNeeded()
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    private func startThreadIfNeeded() {
        guard thread == nil else { return }
        let box = Unmanaged.passRetained(self).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let me = Unmanaged<Resolver>.fromOpaque(arg!).takeRetainedValue()
            me.work()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        pthread_detach(t)
        thread = t
    }

    private func work() {
        while true {
            pthread_mutex_lock(&mutex)
            while queue.isEmpty { pthread_cond_wait(&cond, &mutex) }
            let job = queue.removeFirst()
            pthread_mutex_unlock(&mutex)
            let result = Resolver.lookup(host: job.host, port: job.port, numericOnly: false)
                ?? .failure(.notFound("cannot resolve host '\(job.host)'"))
            let done = job.done
            loop.post { done(result) }
        }
    }

    /// getaddrinfo for TCP; nil when `numericOnly` and `host` is not an IP literal.
    static func lookup(host: String, port: Int, numericOnly: Bool) -> Result<[SocketAddress], Failure>? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        hints.ai_flags = numericOnly ? AI_NUMERICHOST | AI_NUMERICSERV : AI_NUMERICSERV | AI_ADDRCONFIG
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            if numericOnly { return nil }
            return .failure(.notFound("cannot resolve host '\(host)': \(String(cString: gai_strerror(rc)))"))
        }
        defer { freeaddrinfo(first) }
        var out: [SocketAddress] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: n.pointee.ai_addr, count: Int(n.pointee.ai_addrlen)))
            }
            out.append(SocketAddress(family: n.pointee.ai_family, storage: storage, length: n.pointee.ai_addrlen))
            node = n.pointee.ai_next
        }
        return .success(out)
    }
}
