/// Bytes waiting to go out on a socket. One contiguous buffer reused for the life
/// of the connection: appends go to the end, writes consume from the front, and the
/// space is reclaimed when it drains (no per-write allocation once warm).
public struct ByteQueue {
    private var storage: [UInt8] = []
    private var head = 0

    public init() {}

    public var count: Int { storage.count - head }
    public var isEmpty: Bool { head == storage.count }

    public mutating func append<S: Sequence>(contentsOf bytes: S) where S.Element == UInt8 {
        storage.append(contentsOf: bytes)
    }

    /// Lets a serializer append straight into the queue's storage (no staging copy).
    public mutating func appending<R>(_ body: (inout [UInt8]) -> R) -> R { body(&storage) }

    /// Writes as much as the socket takes; returns how it ended.
    public mutating func flush(to fd: Int32) -> Socket.IOResult {
        var total = 0
        while head < storage.count {
            let result = storage.withUnsafeBytes { raw in
                Socket.write(fd, UnsafeRawBufferPointer(rebasing: raw[head...]))
            }
            switch result {
            case .bytes(let n):
                head += n
                total += n
            case .wouldBlock, .eof, .error:
                compactIfUseful()
                return total > 0 && result == .wouldBlock ? .bytes(total) : result
            }
        }
        storage.removeAll(keepingCapacity: storage.capacity <= Self.retainedCapacity)
        head = 0
        return .bytes(total)
    }

    /// Capacity kept across drains; a connection that once sent a huge response
    /// gives the memory back (64 KiB: SwiftNIO's default high watermark).
    static let retainedCapacity = 64 * 1024

    private mutating func compactIfUseful() {
        if head > 0 && head >= storage.count / 2 {
            storage.removeFirst(head)
            head = 0
        }
    }
}
