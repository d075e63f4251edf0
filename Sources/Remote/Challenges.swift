import Reactor
import SSH

/// A login waiting for the user's answers (decisions.md, "Second factors").
struct PendingChallenge {
    let session: SSHSession
    let request: ConnectRequest
    let target: SSHSession.Target
    let promptCount: Int
    let expiry: Reactor.Timer
}

/// What became of `POST /api/remote/connect/respond` at once.
public enum ChallengeAnswer: Equatable {
    /// The login goes on; the completion hears how it ends.
    case accepted
    /// Unknown, expired or already answered.
    case notFound
    /// The challenge asked for this many responses (it still waits).
    case wrongCount(Int)
}

extension ConnectionRegistry {
    /// Keeps the waiting login under a new challenge id until answered or expired (then
    /// the session is closed and the id is unknown).
    func hold(_ challenge: SSHChallenge, session: SSHSession, request: ConnectRequest, target: SSHSession.Target) -> SSHChallenge {
        var challenge = challenge
        challenge.id = newID(prefix: "chl_")
        challenge.expiresInSeconds = challengeSeconds
        let id = challenge.id
        let expiry = loop.makeTimer { [weak self] in
            guard let self, let pending = self.challenges.removeValue(forKey: id) else { return }
            self.pendingSessions[ObjectIdentifier(pending.session)] = nil
            pending.session.disconnect()
            pending.session.route.close()
        }
        loop.arm(expiry, after: .seconds(Double(challengeSeconds)))
        challenges[id] = PendingChallenge(session: session, request: request, target: target,
                                          promptCount: challenge.prompts.count, expiry: expiry)
        return challenge
    }

    /// The user's responses to challenge `id`, in prompt order; `done` hears the login's
    /// end (the connection, another challenge, or the failure) as connect would.
    public func respond(challenge id: String, responses: [String],
                        _ done: @escaping (Result<Connection, SSHError>) -> Void) -> ChallengeAnswer {
        guard let pending = challenges[id] else { return .notFound }
        guard responses.count == pending.promptCount else { return .wrongCount(pending.promptCount) }
        challenges[id] = nil
        loop.disarm(pending.expiry)
        let session = pending.session
        let accepted = session.respond(responses) { [weak self] result in
            self?.loggedIn(session, request: pending.request, target: pending.target, result, done)
        }
        guard accepted else {   // the login ended meanwhile
            pendingSessions[ObjectIdentifier(session)] = nil
            session.disconnect()
            return .notFound
        }
        return .accepted
    }
}
