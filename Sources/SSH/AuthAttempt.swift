import CLibSSH2
import Glibc

/// One authentication step as libssh2 calls. Secrets pass straight from the request
/// to libssh2 and are never copied into logs or errors.
enum AuthAttempt {
    enum Outcome {
        case wouldBlock
        case success
        /// The server said no; `rsa` when the refused key was RSA.
        case rejected(rsa: Bool)
        case agentIdentities([KeyFile.Kind])
        case failed(SSHError)
    }

    static func run(_ step: SSHAuthStep, session s: OpaquePointer, target: SSHSession.Target,
                    context: UnsafeMutablePointer<cssh2_ctx>, agent: AgentAuth, rsaKey: RSAKeyFileAuth) -> Outcome {
        let user = target.username
        let userLen = UInt32(user.utf8.count)
        switch (step, target.auth) {
        case (.rsaSHA2KeyFile, .key(let path, let passphrase)):
            do { try KeyFile.checkReadable(path) } catch let e as SSHError { return .failed(e) } catch { return .failed(.invalidParameters("\(error)")) }
            // An OpenSSH older than 7.2 knows no rsa-sha2: no attempt spent on it.
            guard RSASignaturePolicy.offersSHA2(banner: RSASignaturePolicy.banner(s)) else { return .rejected(rsa: false) }
            switch rsaKey.load(path: path, passphrase: passphrase) {
            case .failure(.refused(let message)): return .failed(.authenticationFailed(method: "key", message: message))
            case .failure(.unsupported): return .rejected(rsa: false)   // libssh2's own loader goes next
            case .success: break
            }
            let rc = rsaKey.authenticate(session: s, user: user)
            if rc != LIBSSH2_ERROR_EAGAIN { rsaKey.close() }
            return classify(rc, session: s, rsa: { false }, keyLoad: nil)
        case (.publicKeyFile, .key(let path, let passphrase)):
            do { try KeyFile.checkReadable(path) } catch let e as SSHError { return .failed(e) } catch { return .failed(.invalidParameters("\(error)")) }
            // After an rsa-sha2-512 offer, ssh-rsa only to a server that may take it.
            if rsaKey.offeredSHA2, !RSASignaturePolicy.offersSHA1AfterSHA2(banner: RSASignaturePolicy.banner(s)) {
                return .rejected(rsa: false)
            }
            let rc = user.withCString { u in
                path.withCString { p in
                    if let passphrase { return passphrase.withCString { cssh2_userauth_keyfile(s, u, userLen, p, $0) } }
                    return cssh2_userauth_keyfile(s, u, userLen, p, nil)
                }
            }
            let isRSA = { KeyFile.kind(ofFileAt: path) == .rsa }
            var keyLoad = passphrase == nil
                ? "cannot load the private key \(path): it is encrypted (give its passphrase) or in an unsupported format"
                : "cannot load the private key \(path): wrong passphrase or unsupported format"
            if LibSSH2.signsRSAWithSHA1Only, rc != LIBSSH2_ERROR_EAGAIN, rc != 0, isRSA() {
                // Even once loaded, this libssh2 could only offer it as ssh-rsa (SHA-1).
                keyLoad = "cannot use the RSA key \(path): " + rsaSHA1RefusedMessage
            }
            return classify(rc, session: s, rsa: isRSA, keyLoad: keyLoad)
        case (.password, .password(let pw)):
            let rc = user.withCString { u in
                pw.withCString { cssh2_userauth_password(s, u, userLen, $0, UInt32(pw.utf8.count)) }
            }
            return classify(rc, session: s, rsa: { false }, keyLoad: nil)
        case (.keyboardInteractive, .password(let pw)):
            let rc: Int32 = pw.withCString { p in
                context.pointee.password = p
                context.pointee.password_len = pw.utf8.count
                defer {
                    context.pointee.password = nil
                    context.pointee.password_len = 0
                }
                return user.withCString { cssh2_userauth_kbdint(s, $0, userLen) }
            }
            return classify(rc, session: s, rsa: { false }, keyLoad: nil)
        case (.agentConnect, .agent(let socket, let only)):
            switch agent.connect(session: s, socket: socket, only: only) {
            case .success(let kinds): return .agentIdentities(kinds)
            case .failure(let e): return .failed(e)
            }
        case (.agentIdentity(let index), .agent(let socket, _))
            where agent.kind(index) == .rsa && LibSSH2.signsRSAWithSHA1Only
                && RSASignaturePolicy.offersSHA2(banner: RSASignaturePolicy.banner(s)):
            // The agent signs rsa-sha2-512 (libssh2 1.10 would ask it for SHA-1).
            let (rc, signFailed) = agent.authenticateRSASHA2(index, session: s, user: user, socket: socket)
            if signFailed { return .rejected(rsa: false) }   // an agent without the SHA-2 flag: next identity
            return classify(rc, session: s, rsa: { false }, keyLoad: nil)
        case (.agentIdentity(let index), .agent):
            guard let identity = agent.identity(index) else { return .rejected(rsa: false) }
            let rc = user.withCString { libssh2_agent_userauth(agent.handle, $0, identity) }
            return classify(rc, session: s, rsa: { agent.kind(index) == .rsa }, keyLoad: nil)
        default:
            preconditionFailure("auth step \(step) does not belong to method \(target.auth.name)")
        }
    }

    private static func classify(_ rc: Int32, session s: OpaquePointer, rsa: () -> Bool, keyLoad: String?) -> Outcome {
        switch rc {
        case 0: return .success
        case LIBSSH2_ERROR_EAGAIN: return .wouldBlock
        // Not PUBLICKEY_UNRECOGNIZED: libssh2.h defines it as AUTHENTICATION_FAILED, the
        // server's refusal, which is not a key that failed to load.
        case LIBSSH2_ERROR_FILE, LIBSSH2_ERROR_KEYFILE_AUTH_FAILED:
            if let keyLoad { return .failed(.authenticationFailed(method: "key", message: keyLoad)) }
            return .rejected(rsa: rsa())
        case LIBSSH2_ERROR_AUTHENTICATION_FAILED, LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED, LIBSSH2_ERROR_PASSWORD_EXPIRED,
             LIBSSH2_ERROR_METHOD_NOT_SUPPORTED, LIBSSH2_ERROR_AGENT_PROTOCOL:
            return .rejected(rsa: rsa())
        default:
            return .failed(.connectionFailed("authentication: \(SSHSession.lastError(s))"))
        }
    }
}

/// The ssh-agent side of agent authentication (libssh2's agent API).
/// In libssh2 1.10 the agent socket is blocking: a local agent answers in microseconds.
final class AgentAuth {
    private(set) var handle: OpaquePointer?
    private var identities: [UnsafeMutablePointer<libssh2_agent_publickey>] = []
    private var kinds: [KeyFile.Kind] = []

    func connect(session: OpaquePointer, socket: String, only: [UInt8]? = nil) -> Result<[KeyFile.Kind], SSHError> {
        close()
        guard let agent = libssh2_agent_init(session) else {
            return .failure(.authenticationFailed(method: "agent", message: "cannot initialise the agent client"))
        }
        handle = agent
        socket.withCString { libssh2_agent_set_identity_path(agent, $0) }
        guard libssh2_agent_connect(agent) == 0 else {
            return .failure(.authenticationFailed(method: "agent", message: "cannot reach the SSH agent at \(socket)"))
        }
        guard libssh2_agent_list_identities(agent) == 0 else {
            return .failure(.authenticationFailed(method: "agent", message: "the SSH agent did not list its identities"))
        }
        var prev: UnsafeMutablePointer<libssh2_agent_publickey>?
        var current: UnsafeMutablePointer<libssh2_agent_publickey>?
        while libssh2_agent_get_identity(agent, &current, prev) == 0, let id = current {
            var len = 0
            let blob = cssh2_agent_identity_blob(id, &len)
            let bytes = blob.map { Array(UnsafeRawBufferPointer(start: $0, count: len)) } ?? []
            let kind = KeyFile.kind(ofPublicKeyBlob: bytes)
            prev = id
            if let only, bytes != only { continue }   // IdentitiesOnly: not the configured key
            identities.append(id)
            kinds.append(kind)
        }
        // Offer ed25519/ECDSA identities before RSA ones: theirs is the one signature
        // algorithm; an RSA identity may meet a server that refuses the one offered.
        let order = identities.indices.sorted { (kinds[$0] == .rsa ? 1 : 0) < (kinds[$1] == .rsa ? 1 : 0) }
        identities = order.map { identities[$0] }
        kinds = order.map { kinds[$0] }
        return .success(kinds)
    }

    func identity(_ index: Int) -> UnsafeMutablePointer<libssh2_agent_publickey>? {
        index < identities.count ? identities[index] : nil
    }

    func kind(_ index: Int) -> KeyFile.Kind { index < kinds.count ? kinds[index] : .unknown }

    func close() {
        if let handle {
            libssh2_agent_disconnect(handle)
            libssh2_agent_free(handle)
        }
        handle = nil
        identities = []
        kinds = []
    }
}
