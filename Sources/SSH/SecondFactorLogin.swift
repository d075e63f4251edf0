import CLibSSH2
import Foundation
import Glibc
import Reactor

/// What a keyboard-interactive server asks that the request cannot answer (decisions.md,
/// "Second factors"): its name, instruction and prompts with their echo flags.
public struct SSHChallenge: Equatable, Sendable {
    public struct Prompt: Equatable, Sendable {
        public var text: String
        public var echo: Bool
    }
    /// Set by whoever hands the challenge out ("chl_" + 8 hex), with its lifetime.
    public var id = ""
    public var expiresInSeconds = SecondFactorLogin.challengeSeconds
    public var name: String
    public var instruction: String
    public var prompts: [Prompt]
}

/// One keyboard-interactive login that may ask the user: libssh2 cannot wait inside its
/// callback on the loop thread (it builds the answer packet right after the callback
/// returns), so this one login runs in blocking mode on a helper thread while the loop
/// thread leaves the session alone. The callback (cssh2_kbdint_ask) answers the password
/// prompt itself and hands the others here; `answer` sends the user's responses back.
/// Answers are secrets: copied once into libssh2's response, wiped, never kept.
public final class SecondFactorLogin {
    /// How long a challenge waits for its answers at most (decisions.md:
    /// expires_in_seconds 120); the registry may end it sooner (config).
    public static let challengeSeconds = 120

    enum Event {
        case challenge(SSHChallenge)
        case finished(Int32)
    }

    private let kbd: UnsafeMutablePointer<cssh2_kbd>
    private unowned let loop: EventLoop
    private let onEvent: (Event) -> Void
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    private(set) var running = false

    init(loop: EventLoop, onEvent: @escaping (Event) -> Void) {
        self.loop = loop
        self.onEvent = onEvent
        kbd = .allocate(capacity: 1)
        kbd.initialize(to: cssh2_kbd())
        pthread_mutex_init(&kbd.pointee.mu, nil)
        pthread_cond_init(&kbd.pointee.cv, nil)
        kbd.pointee.wait_ms = Int32(Self.challengeSeconds * 1000)
    }

    deinit {
        cssh2_kbd_clear_round(kbd)
        pthread_mutex_destroy(&kbd.pointee.mu)
        pthread_cond_destroy(&kbd.pointee.cv)
        kbd.deallocate()
    }

    /// Runs the login on a helper thread; `context` is the session's libssh2 context.
    /// The password stays in memory the caller owns until `finished`.
    func start(session s: OpaquePointer, user: String, password: String?, context: UnsafeMutablePointer<cssh2_ctx>) {
        running = true
        kbd.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
        kbd.pointee.notify = { k in
            guard let k, let owner = k.pointee.owner else { return }
            let me = Unmanaged<SecondFactorLogin>.fromOpaque(owner).takeUnretainedValue()
            me.loop.post { [weak me] in me?.challengePosted() }
        }
        let passwordCopy = password.map { strdup($0) } ?? nil
        kbd.pointee.password = UnsafePointer(passwordCopy)
        kbd.pointee.password_len = password.map { $0.utf8.count } ?? 0
        context.pointee.kbd = kbd
        libssh2_session_set_blocking(s, 1)
        let userCopy = strdup(user)
        let box = UncheckedBox((s, kbd, userCopy, passwordCopy))
        thread = Thread { [done, loop] in
            let (s, kbd, user, password) = box.value
            let rc = cssh2_userauth_kbdint_ask(s, user, UInt32(strlen(user!)))
            free(user)
            pthread_mutex_lock(&kbd.pointee.mu)
            kbd.pointee.password = nil
            pthread_mutex_unlock(&kbd.pointee.mu)
            if let password { memset(password, 0, strlen(password)); free(password) }
            done.signal()
            loop.post { box.finish?(rc) }
        }
        box.finish = { [weak self] rc in self?.finished(context: context, session: s, rc: rc) }
        thread?.start()
    }

    private func challengePosted() {
        pthread_mutex_lock(&kbd.pointee.mu)
        defer { pthread_mutex_unlock(&kbd.pointee.mu) }
        guard kbd.pointee.waiting != 0 else { return }
        let k = kbd.pointee
        let prompts = withUnsafeBytes(of: k.prompt) { raw -> [SSHChallenge.Prompt] in
            let p = raw.bindMemory(to: UnsafeMutablePointer<CChar>?.self)
            return (0..<Int(k.asked)).map { i in
                SSHChallenge.Prompt(text: p[i].map { String(cString: $0) } ?? "",
                                    echo: withUnsafeBytes(of: k.echo) { $0.bindMemory(to: Int32.self)[i] } != 0)
            }
        }
        let challenge = SSHChallenge(name: k.name.map { String(cString: $0) } ?? "",
                                     instruction: k.instruction.map { String(cString: $0) } ?? "", prompts: prompts)
        pthread_mutex_unlock(&kbd.pointee.mu)
        onEvent(.challenge(challenge))
        pthread_mutex_lock(&kbd.pointee.mu)
    }

    private func finished(context: UnsafeMutablePointer<cssh2_ctx>, session s: OpaquePointer, rc: Int32) {
        thread = nil
        running = false
        context.pointee.kbd = nil
        libssh2_session_set_blocking(s, 0)
        onEvent(.finished(rc))
    }

    /// The user's responses to the waiting prompts; false when nothing waits or the count
    /// differs (the prompts keep waiting).
    func answer(_ responses: [String]) -> Bool {
        var copies = responses.map { strdup($0) }
        defer { for c in copies { if let c { memset(c, 0, strlen(c)); free(c) } } }
        let lens = responses.map { $0.utf8.count }
        let rc = copies.withUnsafeMutableBufferPointer { buf in
            buf.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buf.count) { ptrs in
                lens.withUnsafeBufferPointer { cssh2_kbd_answer(kbd, ptrs, $0.baseAddress, Int32(responses.count)) }
            }
        }
        copies = copies.map { $0 }
        return rc == 0
    }

    /// Ends the wait (expiry, disconnect); the login then fails. With `join`, waits for
    /// the helper thread to leave libssh2 (the caller has shut the socket down).
    func cancel(join: Bool) {
        cssh2_kbd_cancel(kbd)
        if join && running { done.wait() }
    }
}

/// Carries values to the helper thread (the session is used by that thread alone while
/// the login runs).
private final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    var finish: ((Int32) -> Void)?
    init(_ value: T) { self.value = value }
}
