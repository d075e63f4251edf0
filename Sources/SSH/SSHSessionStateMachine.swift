/// The life of one SSH session, without sockets or libssh2: events in, actions out.
/// The driver (`SSHSession`) performs each action and feeds back what happened.
public struct SSHSessionStateMachine {
    public enum State: Equatable {
        /// Created; nothing started yet.
        case idle
        /// The host name is being looked up on the resolver thread.
        case resolving
        /// A non-blocking TCP connect to address `index` is in flight.
        case connecting(index: Int, count: Int)
        /// SSH banner exchange, key exchange and host-key check.
        case handshaking
        /// Asking the server which authentication methods it takes.
        case listingAuth
        /// Every offer was refused: asking again, since a "refusal" may be a partial success
        /// (AuthenticationMethods publickey,keyboard-interactive, which libssh2 1.10 does
        /// not report): then keyboard-interactive follows; else `message` is the verdict.
        case checkingPartialSuccess(message: String)
        /// Trying `step`; `remaining` follow if it is refused.
        case authenticating(step: SSHAuthStep, remaining: [SSHAuthStep], sawRSARefusal: Bool)
        /// Authenticated; channels may run.
        case ready
        /// Torn down; `error` is why (nil after a requested disconnect).
        case closed(error: SSHError?)
    }

    public enum Action: Equatable {
        case none
        /// Look the host up.
        case resolve
        /// Open the stream the session is routed over (a jump host's channel, a ProxyCommand).
        case openStream
        /// Connect to address `index`.
        case connect(index: Int)
        /// Start the SSH handshake on the connected socket.
        case handshake
        /// Ask for the server's authentication methods.
        case listAuth
        /// Run one authentication step.
        case authenticate(SSHAuthStep)
        /// Report success to whoever asked for the connection.
        case becomeReady
        /// The connection attempt failed: report it and tear down.
        case failConnect(SSHError)
        /// A ready session died: fail its channels and tear down.
        case lost(SSHError)
        /// A requested disconnect: say goodbye and tear down.
        case disconnect
    }

    public let method: SSHAuthMethod
    /// libssh2 can sign RSA keys with SHA-1 only (1.10), so an RSA refusal gets its own message.
    public let rsaSHA1Only: Bool
    /// The key file holds an RSA key: with a SHA-1-only libssh2 it is offered with an
    /// rsa-sha2-512 signature made by rviewer first, then (if the server may take it)
    /// through libssh2.
    public let keyIsRSA: Bool
    public private(set) var state: State = .idle

    public init(method: SSHAuthMethod, rsaSHA1Only: Bool, keyIsRSA: Bool = false) {
        self.method = method
        self.rsaSHA1Only = rsaSHA1Only
        self.keyIsRSA = keyIsRSA
    }

    public var isConnecting: Bool {
        switch state {
        case .idle, .resolving, .connecting, .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating: return true
        case .ready, .closed: return false
        }
    }

    /// The connect request begins.
    public mutating func onStart() -> Action {
        switch state {
        case .idle: state = .resolving; return .resolve                                  // look up first
        case .resolving, .connecting, .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating, .ready, .closed:
            preconditionFailure("start in \(state)")                                     // starts once
        }
    }

    /// The connect request begins, over a stream instead of a TCP connection of its own.
    public mutating func onStartOverStream() -> Action {
        switch state {
        case .idle: state = .connecting(index: 0, count: 1); return .openStream          // route first
        case .resolving, .connecting, .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating, .ready, .closed:
            preconditionFailure("start in \(state)")                                     // starts once
        }
    }

    /// The stream could not be opened (the jump host failed, the command did not start).
    public mutating func onStreamFailed(_ error: SSHError) -> Action {
        switch state {
        case .connecting: return fail(error)                                               // no way there
        case .closed: return .none                                                         // gave up meanwhile
        case .idle, .resolving, .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating, .ready:
            preconditionFailure("stream failed in \(state)")                             // no stream asked for
        }
    }

    /// The lookup answered with `count` addresses.
    public mutating func onResolved(count: Int) -> Action {
        switch state {
        case .resolving:
            guard count > 0 else { return fail(.connectionFailed("the host name has no addresses")) } // nothing to try
            state = .connecting(index: 0, count: count); return .connect(index: 0)       // first address
        case .closed: return .none                                                         // gave up meanwhile
        case .idle, .connecting, .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating, .ready:
            preconditionFailure("resolved in \(state)")                                  // one lookup per session
        }
    }

    /// The lookup failed.
    public mutating func onResolveFailed(_ message: String) -> Action {
        switch state {
        case .resolving: return fail(.connectionFailed(message))                          // unknown host
        case .closed: return .none                                                         // gave up meanwhile
        case .idle, .connecting, .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating, .ready:
            preconditionFailure("resolve failed in \(state)")                            // one lookup per session
        }
    }

    /// The TCP connect succeeded.
    public mutating func onConnected() -> Action {
        switch state {
        case .connecting: state = .handshaking; return .handshake                          // speak SSH
        case .closed: return .none                                                         // gave up meanwhile
        case .idle, .resolving, .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating, .ready:
            preconditionFailure("connected in \(state)")                                 // no connect in flight
        }
    }

    /// The TCP connect failed (refused, unreachable).
    public mutating func onConnectFailed(_ message: String) -> Action {
        switch state {
        case .connecting(let index, let count):
            if index + 1 < count { state = .connecting(index: index + 1, count: count); return .connect(index: index + 1) } // next address
            return fail(.connectionFailed(message))                                        // all refused
        case .closed: return .none                                                         // gave up meanwhile
        case .idle, .resolving, .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating, .ready:
            preconditionFailure("connect failed in \(state)")                            // no connect in flight
        }
    }

    /// The handshake finished and the host key was checked.
    public mutating func onHandshakeDone(hostKey: KnownHosts.Verdict, host: String) -> Action {
        switch state {
        case .handshaking:
            switch hostKey {
            case .trusted, .recorded: state = .listingAuth; return .listAuth                // go on to auth
            case .mismatch(let facts): return fail(.hostKeyMismatch(facts))               // refuse
            case .unknown(let facts): return fail(.hostKeyUnknown(facts))                 // strict: ask first
            }
        case .closed: return .none                                                         // gave up meanwhile
        case .idle, .resolving, .connecting, .listingAuth, .checkingPartialSuccess, .authenticating, .ready:
            preconditionFailure("handshake done in \(state)")                            // no handshake running
        }
    }

    /// Something failed in a connecting phase (handshake error, socket error, key load error).
    public mutating func onFailure(_ error: SSHError) -> Action {
        switch state {
        case .idle, .resolving, .connecting, .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating: return fail(error) // attempt over
        case .ready: state = .closed(error: error); return .lost(error)                   // live session died
        case .closed: return .none                                                         // already gone
        }
    }

    /// The server listed its methods; nil means "none" authentication already succeeded.
    public mutating func onAuthMethods(_ methods: [String]?) -> Action {
        switch state {
        case .listingAuth:
            guard let methods else { state = .ready; return .becomeReady }                 // no auth needed
            let steps = plan(methods)
            guard let first = steps.first else {
                return fail(.authenticationFailed(method: method.name, message: "the server does not accept \(method.name) authentication (it offers: \(methods.joined(separator: ", ")))"))
            }
            state = .authenticating(step: first, remaining: Array(steps.dropFirst()), sawRSARefusal: false)
            return .authenticate(first)                                                    // first attempt
        case .checkingPartialSuccess(let message):
            guard let methods else { state = .ready; return .becomeReady }                 // it was enough
            guard methods.contains("keyboard-interactive"), !methods.contains("publickey") else {
                return fail(.authenticationFailed(method: method.name, message: message))  // a plain refusal
            }
            state = .authenticating(step: .keyboardInteractive, remaining: [], sawRSARefusal: false)
            return .authenticate(.keyboardInteractive)                                     // the second factor
        case .closed: return .none                                                         // gave up meanwhile
        case .idle, .resolving, .connecting, .handshaking, .authenticating, .ready:
            preconditionFailure("auth methods in \(state)")                              // not asked
        }
    }

    /// The agent was reached and holds identities of these kinds.
    public mutating func onAgentIdentities(_ kinds: [KeyFile.Kind]) -> Action {
        switch state {
        case .authenticating(.agentConnect, _, _):
            let count = min(kinds.count, SSHAuthLimits.maxAgentIdentities)
            guard count > 0 else {
                return fail(.authenticationFailed(method: "agent", message: "the SSH agent holds no identities to offer (with IdentitiesOnly: none matching the IdentityFile)"))  // nothing to offer
            }
            let steps = (0..<count).map { SSHAuthStep.agentIdentity($0) }
            state = .authenticating(step: steps[0], remaining: Array(steps.dropFirst()), sawRSARefusal: false)
            return .authenticate(steps[0])                                                 // offer the first
        case .closed: return .none                                                         // gave up meanwhile
        case .idle, .resolving, .connecting, .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating, .ready:
            preconditionFailure("agent identities in \(state)")                          // agent not asked
        }
    }

    /// The current step was refused; `rsaKey` says the refused key was RSA.
    public mutating func onAuthRejected(rsaKey: Bool) -> Action {
        switch state {
        case .authenticating(let step, let remaining, let sawRSA):
            let rsa = sawRSA || (rsaKey && rsaSHA1Only)
            if let next = remaining.first {
                state = .authenticating(step: next, remaining: Array(remaining.dropFirst()), sawRSARefusal: rsa)
                return .authenticate(next)                                                 // try the next
            }
            let message = rsa ? rsaSHA1RefusedMessage : rejectionMessage
            if case .password = method { return fail(.authenticationFailed(method: method.name, message: message)) }
            guard step != .keyboardInteractive else {
                return fail(.authenticationFailed(method: method.name, message: "the server refused the second factor"))
            }
            state = .checkingPartialSuccess(message: message); return .listAuth            // partial success?
        case .closed: return .none                                                         // gave up meanwhile
        case .idle, .resolving, .connecting, .handshaking, .listingAuth, .checkingPartialSuccess, .ready:
            preconditionFailure("auth rejected in \(state)")                             // no attempt running
        }
    }

    /// The current step succeeded.
    public mutating func onAuthenticated() -> Action {
        switch state {
        case .authenticating, .listingAuth, .checkingPartialSuccess: state = .ready; return .becomeReady           // done
        case .closed: return .none                                                         // gave up meanwhile
        case .idle, .resolving, .connecting, .handshaking, .ready:
            preconditionFailure("authenticated in \(state)")                             // no attempt running
        }
    }

    /// The connect timeout fired.
    public mutating func onTimeout() -> Action {
        switch state {
        case .idle, .resolving, .connecting: return fail(.timeout(phase: "connect"))      // no TCP in time
        case .handshaking: return fail(.timeout(phase: "handshake"))                      // no banner/kex in time
        case .listingAuth, .checkingPartialSuccess, .authenticating: return fail(.timeout(phase: "authentication")) // auth too slow
        case .ready, .closed: return .none                                                 // timer is stale
        }
    }

    /// The user asked to disconnect.
    public mutating func onDisconnect() -> Action {
        switch state {
        case .ready: state = .closed(error: nil); return .disconnect                      // goodbye
        case .idle, .resolving, .connecting, .handshaking, .listingAuth, .checkingPartialSuccess, .authenticating:
            return fail(.disconnected("disconnected before the connection was ready"))    // abandon attempt
        case .closed: return .none                                                         // already gone
        }
    }

    private mutating func fail(_ error: SSHError) -> Action {
        state = .closed(error: error)
        return .failConnect(error)
    }

    private var rejectionMessage: String {
        switch method {
        case .key: return "the server refused the key"
        case .password: return "the server refused the username or password"
        case .agent: return "the server refused every identity the agent offered"
        }
    }

    /// The steps for the configured method that the server's list allows, in order.
    private func plan(_ methods: [String]) -> [SSHAuthStep] {
        switch method {
        case .key:
            guard methods.contains("publickey") else { return [] }
            return rsaSHA1Only && keyIsRSA ? [.rsaSHA2KeyFile, .publicKeyFile] : [.publicKeyFile]
        case .agent: return methods.contains("publickey") ? [.agentConnect] : []
        case .password:
            // Many servers allow only keyboard-interactive: answer its password prompt too.
            var steps: [SSHAuthStep] = []
            if methods.contains("password") { steps.append(.password) }
            if methods.contains("keyboard-interactive") { steps.append(.keyboardInteractive) }
            return steps
        }
    }
}
