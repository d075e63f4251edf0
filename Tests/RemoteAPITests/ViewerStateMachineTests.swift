import XCTest
@testable import Remote

final class ViewerStateMachineTests: XCTestCase {
    func testProbesWithBackoffUntilServing() {
        var m = ViewerStateMachine()
        XCTAssertEqual(m.onLaunched(), .probe(afterMs: 0))
        XCTAssertEqual(m.onProbe(ok: false), .probe(afterMs: 50))
        XCTAssertEqual(m.onProbe(ok: false), .probe(afterMs: 100))
        XCTAssertEqual(m.onProbe(ok: false), .probe(afterMs: 100), "backoff is capped at 100 ms")
        XCTAssertEqual(m.onProbe(ok: false), .checkProcess, "every 4th failure asks whether it still runs")
        XCTAssertEqual(m.onProcessCheck(alive: true, logTail: ""), .probe(afterMs: 100))
        XCTAssertEqual(m.onProbe(ok: true), .reportStarted)
        XCTAssertEqual(m.state, .running)
        XCTAssertTrue(m.isActive)
    }

    func testDeathWhileStartingFailsWithTheLog() {
        var m = ViewerStateMachine()
        _ = m.onLaunched()
        for _ in 0..<3 { _ = m.onProbe(ok: false) }
        XCTAssertEqual(m.onProbe(ok: false), .checkProcess)
        guard case .failStart(let reason) = m.onProcessCheck(alive: false, logTail: "Traceback: boom") else { return XCTFail() }
        XCTAssertTrue(reason.contains("Traceback: boom"))
        XCTAssertFalse(m.isActive)
    }

    func testDeathFoundWhenTakenBackSaysItExitedWhileRunning() {
        for takeBack in [{ (m: inout ViewerStateMachine) in _ = m.onConnectionLost("eof"); return m.onReconnected() },
                         { (m: inout ViewerStateMachine) in m = ViewerStateMachine(); return m.onAdopted() }] {
            var m = ViewerStateMachine()
            _ = m.onLaunched()
            _ = m.onProbe(ok: true)
            XCTAssertEqual(takeBack(&m), .reopenTunnel)
            for _ in 0..<3 { _ = m.onProbe(ok: false) }
            XCTAssertEqual(m.onProbe(ok: false), .checkProcess)
            guard case .failStart(let reason) = m.onProcessCheck(alive: false, logTail: "killed") else { return XCTFail() }
            XCTAssertTrue(reason.hasPrefix("the viewer exited while running"), reason)
            XCTAssertFalse(reason.contains("while starting"), reason)
        }
    }

    func testStartTimeout() {
        var m = ViewerStateMachine()
        _ = m.onLaunched()
        XCTAssertEqual(m.onStartTimeout(seconds: 60), .failStartWithLog("the viewer did not answer HTTP within 60 s"), "its log says why")
        XCTAssertEqual(m.onProbe(ok: true), .none, "a late answer changes nothing")
    }

    func testDeathWhileRunningClosesTheTunnel() {
        var m = ViewerStateMachine()
        _ = m.onLaunched()
        _ = m.onProbe(ok: true)
        XCTAssertEqual(m.onProcessCheck(alive: true, logTail: ""), .none)
        XCTAssertEqual(m.onProcessCheck(alive: false, logTail: ""), .closeTunnel)
        XCTAssertEqual(m.state, .failed(reason: "the viewer process exited"))
    }

    func testStop() {
        var m = ViewerStateMachine()
        _ = m.onLaunched()
        _ = m.onProbe(ok: true)
        XCTAssertEqual(m.onStop(), .endProcess)
        XCTAssertEqual(m.onStop(), .none, "a second stop joins the one in flight")
        m.onStopped()
        XCTAssertEqual(m.state, .stopped)
        XCTAssertFalse(m.isActive)
        XCTAssertEqual(m.onStop(), .endProcess, "stopping a stopped viewer runs the stop again (it may ask for cleanup)")
    }

    func testStopWhileLaunchingWaitsForTheLaunchThenEndsIt() {
        var m = ViewerStateMachine()
        XCTAssertEqual(m.onStop(), .awaitLaunch)
        XCTAssertTrue(m.isActive, "a new start is still refused")
        XCTAssertEqual(m.onStop(), .none)
        XCTAssertEqual(m.onStartTimeout(seconds: 60), .none)
        XCTAssertEqual(m.onLaunched(), .abortStart(ViewerStateMachine.stoppedWhileStarting))
        XCTAssertEqual(m.state, .stopping)
        XCTAssertEqual(m.onProbe(ok: true), .none)
        m.onStopped()
        XCTAssertEqual(m.state, .stopped)
    }

    func testStopWhileLaunchingWhenTheLaunchFails() {
        var m = ViewerStateMachine()
        XCTAssertEqual(m.onStop(), .awaitLaunch)
        XCTAssertEqual(m.onLaunchFailed("no python"), .abortStart("no python"))
        XCTAssertEqual(m.state, .stopping)
    }

    func testStopWhileProbingAbortsTheStart() {
        var m = ViewerStateMachine()
        _ = m.onLaunched()
        _ = m.onProbe(ok: false)
        XCTAssertEqual(m.onStop(), .abortStart(ViewerStateMachine.stoppedWhileStarting))
        XCTAssertEqual(m.onProbe(ok: true), .none, "a late probe answer starts nothing")
        XCTAssertEqual(m.onStartTimeout(seconds: 60), .none)
    }

    func testLostConnectionSaysSoAndDoesNotClaimTheProcessExited() {
        var running = ViewerStateMachine()
        _ = running.onLaunched()
        _ = running.onProbe(ok: true)
        XCTAssertEqual(running.onConnectionLost("connection reset"), .closeTunnel)
        guard case .unreachable(let reason) = running.state else { return XCTFail() }
        XCTAssertTrue(reason.contains("connection reset") && reason.contains("may still be running"), reason)
        XCTAssertFalse(running.isActive)
        XCTAssertEqual(running.onStop(), .refuseStop(reason), "a stop cannot reach it: refused, nothing changes")
        XCTAssertEqual(running.state, .unreachable(reason: reason))
        XCTAssertEqual(running.onReconnected(), .reopenTunnel, "back: probe it through a new tunnel")
        XCTAssertEqual(running.onProbe(ok: true), .reportStarted)
        XCTAssertEqual(running.onReconnected(), .none)
        var waiting = ViewerStateMachine()
        _ = waiting.onLaunched()
        guard case .failStart = waiting.onConnectionLost("eof") else { return XCTFail() }
        var launching = ViewerStateMachine()
        XCTAssertEqual(launching.onConnectionLost("eof"), .none, "the launch command fails on its own")
        XCTAssertEqual(launching.state, .launching)
    }

    func testTunnelFailureFailsTheStart() {
        var m = ViewerStateMachine()
        _ = m.onLaunched()
        XCTAssertEqual(m.onTunnelFailed("port in use"), .failStart("port in use"))
        XCTAssertFalse(m.isActive)
        XCTAssertEqual(m.onTunnelFailed("again"), .none)
    }

    func testLaunchFailure() {
        var m = ViewerStateMachine()
        XCTAssertEqual(m.onLaunchFailed("no python"), .failStart("no python"))
        XCTAssertEqual(m.onLaunched(), .none)
    }

    func testAdoptedViewerIsProbedThroughANewTunnel() {
        var m = ViewerStateMachine()
        XCTAssertEqual(m.onAdopted(), .reopenTunnel)
        XCTAssertEqual(m.state, .waiting(attempt: 0))
        XCTAssertEqual(m.onAdopted(), .none, "only a fresh machine is adopted")
        XCTAssertEqual(m.onProbe(ok: true), .reportStarted)
        XCTAssertEqual(m.onAdopted(), .none)
        var dead = ViewerStateMachine()
        _ = dead.onAdopted()
        for _ in 0..<3 { _ = dead.onProbe(ok: false) }
        XCTAssertEqual(dead.onProbe(ok: false), .checkProcess)
        if case .failStart = dead.onProcessCheck(alive: false, logTail: "gone") {} else { XCTFail("a dead adopted viewer fails") }
    }

    func testIdentifyScriptMatchesOnlyTheLaunchedCommandAndQuotes() {
        let script = ViewerScripts.identify(pid: 4242, port: 35001, directory: "/h/.cache/rviewer/x'; kill -9 -1; '")
        XCTAssertTrue(script.contains("ps -ww -o args= -p 4242"), script)
        XCTAssertTrue(script.contains("grep -qF -- ' -m runicorn viewer --host 127.0.0.1 --port 35001 '"), script)
        XCTAssertTrue(script.contains(#"[ -d '/h/.cache/rviewer/x'\''; kill -9 -1; '\''' ]"#), script)
        XCTAssertFalse(script.contains("kill -TERM") || script.contains("kill -KILL"), "it never signals")
    }

    func testLaunchScriptQuotesEverything() {
        let script = ViewerScripts.launch(id: "viewer_1", python: "/home/u/my env/bin/python3", storage: "/data/$(rm -rf ~)'x")
        XCTAssertTrue(script.contains("'/home/u/my env/bin/python3' -m runicorn viewer --host 127.0.0.1"))
        XCTAssertTrue(script.contains("--storage '/data/$(rm -rf ~)'\\''x'"))
        let stop = ViewerScripts.stop(pid: 42, directory: "/h/.cache/rviewer/v; rm -rf /", graceTenths: 50, cleanup: true)
        XCTAssertTrue(stop.contains("rm -rf '/h/.cache/rviewer/v; rm -rf /'"))
        XCTAssertTrue(stop.contains("kill -TERM -42"))
    }
}
