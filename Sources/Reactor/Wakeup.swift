import CLinuxSys
import Glibc

/// An eventfd in the loop through which other threads (the DNS resolver) hand work
/// to the loop thread (libuv's async handle).
final class Wakeup: IOHandler {
    let fd: Int32
    var token: Token?
    private var lock = pthread_mutex_t()
    private var queue: [() -> Void] = []

    init() throws {
        fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw SystemError.call("eventfd", errno) }
        pthread_mutex_init(&lock, nil)
    }

    deinit {
        close(fd)
        pthread_mutex_destroy(&lock)
    }

    func post(_ task: @escaping () -> Void) {
        pthread_mutex_lock(&lock)
        queue.append(task)
        pthread_mutex_unlock(&lock)
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    func handleIO(_ events: IOEvents) {
        var count: UInt64 = 0
        _ = read(fd, &count, 8)
        pthread_mutex_lock(&lock)
        let tasks = queue
        queue.removeAll()
        pthread_mutex_unlock(&lock)
        for task in tasks { task() }
    }
}
