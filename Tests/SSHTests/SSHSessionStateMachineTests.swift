import XCTest
@testable import SSH

final class SSHSessionStateMachineTests: XCTestCase {
    private func ready(_ method: SSHAuthMethod = .key(path: "/k", passphrase: nil)) -> SSHSessionStateMachine {
        var m = SSHSessionStateMachine(method: method, rsaSHA1Only: true)
        XCTAssertEqual(m.onStart(), .resolve)
        XCTAssertEqual(m.onResolved(count: 1), .connect(index: 0))
        XCTAssertEqual(m.onConnected(), .handshake)
        XCTAssertEqual(m.onHandshakeDone(hostKey: .trusted, host: "h"), .listAuth)
        return m
    }

    func testKeyAuthHappyPath() {
        var m = ready()
        XCTAssertEqual(m.onAuthMethods(["publickey", "password"]), .authenticate(.publicKeyFile))
        XCTAssertEqual(m.onAuthenticated(), .becomeReady)
        XCTAssertEqual(m.state, .ready)
        XCTAssertFalse(m.isConnecting)
    }

    func testNextAddressAfterRefusal() {
        var m = SSHSessionStateMachine(method: .password("p"), rsaSHA1Only: true)
        _ = m.onStart()
        XCTAssertEqual(m.onResolved(count: 2), .connect(index: 0))
        XCTAssertEqual(m.onConnectFailed("refused"), .connect(index: 1))
        XCTAssertEqual(m.onConnectFailed("refused"), .failConnect(.connectionFailed("refused")))
    }

    func testPasswordFallsBackToKeyboardInteractive() {
        var m = ready(.password("p"))
        XCTAssertEqual(m.onAuthMethods(["publickey", "password", "keyboard-interactive"]), .authenticate(.password))
        XCTAssertEqual(m.onAuthRejected(rsaKey: false), .authenticate(.keyboardInteractive))
        XCTAssertEqual(m.onAuthRejected(rsaKey: false),
                       .failConnect(.authenticationFailed(method: "password", message: "the server refused the username or password")))
    }

    func testKeyboardInteractiveOnlyServer() {
        var m = ready(.password("p"))
        XCTAssertEqual(m.onAuthMethods(["publickey", "keyboard-interactive"]), .authenticate(.keyboardInteractive))
    }

    func testMethodNotOfferedFailsWithTheList() {
        var m = ready(.password("p"))
        guard case .failConnect(.authenticationFailed("password", let message)) = m.onAuthMethods(["publickey"]) else { return XCTFail() }
        XCTAssertTrue(message.contains("publickey"))
    }

    func testRSARefusalGetsThePreciseMessage() {
        var m = ready()
        _ = m.onAuthMethods(["publickey"])
        XCTAssertEqual(m.onAuthRejected(rsaKey: true), .listAuth, "a refusal may be a partial success: ask again")
        XCTAssertEqual(m.onAuthMethods(["publickey", "password"]), .failConnect(.authenticationFailed(method: "key", message: rsaSHA1RefusedMessage)))
    }

    /// AuthenticationMethods publickey,keyboard-interactive: libssh2 1.10 reports the key's
    /// partial success as a refusal; the methods asked again say what follows.
    func testPartialSuccessGoesOnWithKeyboardInteractive() {
        var m = ready()
        _ = m.onAuthMethods(["publickey"])
        XCTAssertEqual(m.onAuthRejected(rsaKey: false), .listAuth)
        XCTAssertEqual(m.onAuthMethods(["keyboard-interactive"]), .authenticate(.keyboardInteractive))
        XCTAssertEqual(m.onAuthRejected(rsaKey: false), .failConnect(.authenticationFailed(method: "key", message: "the server refused the second factor")))
        var p = ready(.password("pw"))
        _ = p.onAuthMethods(["keyboard-interactive"])
        guard case .failConnect = p.onAuthRejected(rsaKey: false) else { return XCTFail("a password refusal is final at once") }
    }

    func testRSARefusalWithModernLibssh2IsPlain() {
        var m = SSHSessionStateMachine(method: .key(path: "/k", passphrase: nil), rsaSHA1Only: false)
        _ = m.onStart(); _ = m.onResolved(count: 1); _ = m.onConnected(); _ = m.onHandshakeDone(hostKey: .recorded, host: "h")
        _ = m.onAuthMethods(["publickey"])
        XCTAssertEqual(m.onAuthRejected(rsaKey: true), .listAuth)
        XCTAssertEqual(m.onAuthMethods(["publickey"]), .failConnect(.authenticationFailed(method: "key", message: "the server refused the key")))
    }

    func testAgentTriesBoundedIdentities() {
        var m = ready(.agent(socket: "/s"))
        XCTAssertEqual(m.onAuthMethods(["publickey"]), .authenticate(.agentConnect))
        XCTAssertEqual(m.onAgentIdentities(Array(repeating: .ed25519, count: 9)), .authenticate(.agentIdentity(0)))
        for i in 1..<SSHAuthLimits.maxAgentIdentities {
            XCTAssertEqual(m.onAuthRejected(rsaKey: false), .authenticate(.agentIdentity(i)))
        }
        XCTAssertEqual(m.onAuthRejected(rsaKey: false), .listAuth)
        guard case .failConnect(.authenticationFailed("agent", _)) = m.onAuthMethods(["publickey"]) else { return XCTFail() }
    }

    func testEmptyAgentFails() {
        var m = ready(.agent(socket: "/s"))
        _ = m.onAuthMethods(["publickey"])
        guard case .failConnect(.authenticationFailed("agent", _)) = m.onAgentIdentities([]) else { return XCTFail() }
    }

    func testHostKeyMismatchFails() {
        var m = SSHSessionStateMachine(method: .password("p"), rsaSHA1Only: true)
        _ = m.onStart(); _ = m.onResolved(count: 1); _ = m.onConnected()
        let facts = HostKeyFacts(host: "h", port: 22, keyType: "ssh-ed25519", fingerprint: "SHA256:abc", expected: "SHA256:old")
        guard case .failConnect(.hostKeyMismatch(facts)) = m.onHandshakeDone(hostKey: .mismatch(facts), host: "h") else {
            return XCTFail()
        }
    }

    func testTimeoutNamesThePhase() {
        var a = SSHSessionStateMachine(method: .password("p"), rsaSHA1Only: true)
        _ = a.onStart()
        XCTAssertEqual(a.onTimeout(), .failConnect(.timeout(phase: "connect")))
        var b = SSHSessionStateMachine(method: .password("p"), rsaSHA1Only: true)
        _ = b.onStart(); _ = b.onResolved(count: 1); _ = b.onConnected()
        XCTAssertEqual(b.onTimeout(), .failConnect(.timeout(phase: "handshake")))
        var c = ready()
        XCTAssertEqual(c.onTimeout(), .failConnect(.timeout(phase: "authentication")))
        var d = ready()
        _ = d.onAuthMethods(nil)
        XCTAssertEqual(d.onTimeout(), .none, "a ready session ignores a stale connect timer")
    }

    func testLateEventsAfterFailureAreIgnored() {
        var m = SSHSessionStateMachine(method: .password("p"), rsaSHA1Only: true)
        _ = m.onStart()
        _ = m.onTimeout()
        XCTAssertEqual(m.onResolved(count: 1), .none)
        XCTAssertEqual(m.onDisconnect(), .none)
    }

    func testReadySessionLossAndDisconnect() {
        var m = ready()
        _ = m.onAuthMethods(nil)
        XCTAssertEqual(m.onFailure(.disconnected("gone")), .lost(.disconnected("gone")))
        var n = ready()
        _ = n.onAuthMethods(nil)
        XCTAssertEqual(n.onDisconnect(), .disconnect)
        XCTAssertEqual(n.state, .closed(error: nil))
    }
}

final class ExecStateMachineTests: XCTestCase {
    func testCommandLifecycle() {
        var m = ExecStateMachine(hasCommand: true)
        XCTAssertEqual(m.onOpenSlot(), .open)
        XCTAssertEqual(m.onOpened(), .exec)
        XCTAssertEqual(m.onStarted(), .read)
        XCTAssertEqual(m.onEOF(), .close)
        XCTAssertEqual(m.onClosed(), .complete)
        XCTAssertEqual(m.state, .finished)
    }

    func testPingReportsAtOpenThenCloses() {
        var m = ExecStateMachine(hasCommand: false)
        _ = m.onOpenSlot()
        XCTAssertEqual(m.onOpened(), .complete, "one round trip: the open's confirmation")
        XCTAssertEqual(m.state, .closing)
        XCTAssertEqual(m.onClosed(), .none, "already reported")
        XCTAssertEqual(m.state, .finished)
    }

    func testTimeoutReportsOnceAndStillCleansUp() {
        var m = ExecStateMachine(hasCommand: true)
        _ = m.onOpenSlot(); _ = m.onOpened(); _ = m.onStarted()
        XCTAssertEqual(m.onTimeout(), .fail(.timeout(phase: "command")))
        XCTAssertEqual(m.onTimeout(), .none)
        XCTAssertEqual(m.onAbandonWhileReading(), .close)
        XCTAssertEqual(m.onClosed(), .none, "the outcome was already reported")
        XCTAssertEqual(m.state, .finished)
    }

    /// MaxSessions 1: an open refused while a slot is busy waits and queues again, with
    /// doubling waits, at most `maxOpenRetries` times; refused with no slot busy, it fails.
    func testRefusedOpenRetriesWhileASlotIsBusyThenFails() {
        let refused = SSHError.libssh2(call: "channel_open", code: -21, message: "Channel open failure")
        var m = ExecStateMachine(hasCommand: false)
        for attempt in 0..<ExecStateMachine.maxOpenRetries {
            XCTAssertEqual(m.onOpenSlot(), .open)
            XCTAssertEqual(m.onOpenRefused(refused, slotBusy: true), .retryOpen(afterMs: 25 << attempt))
            XCTAssertEqual(m.state, .refused)
            XCTAssertEqual(m.onOpenSlot(), .none, "not queued until the wait ends")
            XCTAssertEqual(m.onSlotFreed(), .none)
            XCTAssertEqual(m.state, .queued)
        }
        XCTAssertEqual(m.onOpenSlot(), .open)
        XCTAssertEqual(m.onOpenRefused(refused, slotBusy: true), .fail(refused), "out of retries")
        XCTAssertEqual(m.state, .finished)

        var lone = ExecStateMachine(hasCommand: true)
        _ = lone.onOpenSlot()
        XCTAssertEqual(lone.onOpenRefused(refused, slotBusy: false), .fail(refused), "nothing of ours holds a slot: the refusal stands")

        var waiting = ExecStateMachine(hasCommand: true)
        _ = waiting.onOpenSlot()
        _ = waiting.onOpenRefused(refused, slotBusy: true)
        XCTAssertEqual(waiting.onTimeout(), .fail(.timeout(phase: "command")), "the command's deadline still holds")
        XCTAssertEqual(waiting.onSlotFreed(), .none)
        XCTAssertEqual(waiting.state, .finished)
    }

    func testTimeoutWhileQueuedFinishesAtOnce() {
        var m = ExecStateMachine(hasCommand: true)
        XCTAssertEqual(m.onTimeout(), .fail(.timeout(phase: "command")))
        XCTAssertEqual(m.state, .finished)
        XCTAssertEqual(m.onOpenSlot(), .none)
    }

    func testTimedOutOpenClosesInsteadOfExecuting() {
        var m = ExecStateMachine(hasCommand: true)
        _ = m.onOpenSlot()
        _ = m.onTimeout()
        XCTAssertEqual(m.onOpened(), .close)
    }

    func testAdoptedWarmChannelSkipsTheOpen() {
        var m = ExecStateMachine(hasCommand: true)
        XCTAssertEqual(m.onAdopted(), .exec, "the warm channel is already open")
        XCTAssertEqual(m.state, .starting)
        XCTAssertEqual(m.onOpenSlot(), .none, "past the open slot")
        XCTAssertEqual(m.onStarted(), .read)
        XCTAssertEqual(m.onEOF(), .close)
        XCTAssertEqual(m.onClosed(), .complete)
    }

    func testErrorReportsOnce() {
        var m = ExecStateMachine(hasCommand: true)
        _ = m.onOpenSlot()
        XCTAssertEqual(m.onError(.disconnected("x")), .fail(.disconnected("x")))
        XCTAssertEqual(m.onError(.disconnected("y")), .none)
    }
}

final class WarmChannelStateMachineTests: XCTestCase {
    func testOpensThenHandsOverOnce() {
        var m = WarmChannelStateMachine()
        XCTAssertEqual(m.onAdopt(), .none, "nothing to hand over before the open")
        XCTAssertEqual(m.onOpenSlot(), .open)
        XCTAssertEqual(m.onAdopt(), .none, "still opening")
        XCTAssertEqual(m.onOpened(), .none)
        XCTAssertEqual(m.state, .ready)
        XCTAssertEqual(m.onAdopt(), .handOver)
        XCTAssertEqual(m.onAdopt(), .none, "one command gets it, never two")
        XCTAssertEqual(m.state, .handedOver)
        XCTAssertEqual(m.onError(), .none)
        XCTAssertEqual(m.state, .handedOver)
    }

    func testFailedOpenNeverHandsOver() {
        var m = WarmChannelStateMachine()
        _ = m.onOpenSlot()
        XCTAssertEqual(m.onError(), .none)
        XCTAssertEqual(m.state, .failed)
        XCTAssertEqual(m.onAdopt(), .none)
        XCTAssertEqual(m.onOpenSlot(), .none)
    }

    func testSessionLossWhileReadyFails() {
        var m = WarmChannelStateMachine()
        _ = m.onOpenSlot(); _ = m.onOpened()
        _ = m.onError()
        XCTAssertEqual(m.onAdopt(), .none, "a dead session's channel is never handed out")
    }
}
