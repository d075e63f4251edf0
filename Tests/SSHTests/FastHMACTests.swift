import CFastHMAC
import Foundation
import XCTest

/// The keyed-MAC cache (Sources/CFastHMAC/FastHMAC.c): every MAC it produces must equal
/// OpenSSL's own HMAC byte for byte, in the call patterns of libssh2 1.10 (HMAC_* per
/// packet) and 1.11 with OpenSSL 3 (EVP_MAC per packet, OpenSSL's HMAC provider calling
/// HMAC_* underneath), for the three digests of SSH's MACs, across re-keys and with
/// several sessions' keys live at once.
final class FastHMACTests: XCTestCase {
    /// SSH packet sizes: a 100-byte request, a full 32 KiB channel packet, a window adjust,
    /// an odd size, a block exactly.
    private let packets: [UInt32] = [100, 32768, 12, 1461, 64, 0, 16384]

    private func check(digest: Int32, style: Int32, sessions: Int32 = 1, rekeyEvery: Int32 = 0, bytes: Int = 1 << 20,
                       seed: UInt32 = 1, file: StaticString = #filePath, line: UInt = #line) {
        let rc = packets.withUnsafeBufferPointer {
            rv_fasthmac_selftest(digest, style, bytes, $0.baseAddress, $0.count, sessions, rekeyEvery, seed)
        }
        XCTAssertEqual(rc, 0, rc > 0 ? "packet \(rc) got a different MAC" : "selftest could not run (\(rc))", file: file, line: line)
    }

    func testCacheIsOnUnlessSwitchedOff() {
        XCTAssertEqual(rv_fasthmac_enabled(), ProcessInfo.processInfo.environment["RVIEWER_HMAC_CACHE"] == "0" ? 0 : 1)
    }

    func testLibSSH2_110PatternAllDigests() {
        let before = rv_fasthmac_get_stats()
        for digest: Int32 in [1, 256, 512] { check(digest: digest, style: 0, seed: 3) }
        let after = rv_fasthmac_get_stats()
        guard rv_fasthmac_enabled() == 1 else { return }
        let macs = after.macs - before.macs
        XCTAssertGreaterThan(macs, 100, "the cache computed the MACs")
        XCTAssertEqual(after.pads_computed - before.pads_computed, 3, "one key per digest: its pads computed once")
        XCTAssertGreaterThanOrEqual(after.pooled - before.pooled, macs - 3, "contexts came from the pool, not malloc")
        XCTAssertEqual(after.passed_through, before.passed_through, "nothing went to OpenSSL's HMAC")
    }

    func testLibSSH2_111PatternThroughEVP_MAC() {
        let before = rv_fasthmac_get_stats()
        for digest: Int32 in [1, 256, 512] { check(digest: digest, style: 1, seed: 2) }
        let after = rv_fasthmac_get_stats()
        guard rv_fasthmac_enabled() == 1 else { return }
        XCTAssertGreaterThan(after.macs - before.macs, 100, "OpenSSL's HMAC provider reached the cache")
        XCTAssertEqual(after.pads_computed - before.pads_computed, 3)
    }

    /// Re-keys every 50 packets, four sessions' keys interleaved packet by packet.
    func testRekeysAndSeveralSessionsAtOnce() {
        for style: Int32 in [0, 1] {
            let before = rv_fasthmac_get_stats()
            check(digest: 256, style: style, sessions: 4, rekeyEvery: 50, bytes: 4 << 20, seed: 5)
            check(digest: 512, style: style, sessions: 3, rekeyEvery: 7, bytes: 1 << 20, seed: 6)
            let after = rv_fasthmac_get_stats()
            if rv_fasthmac_enabled() == 1 {
                XCTAssertGreaterThan(after.pads_computed - before.pads_computed, 10, "each new key got its own pads")
            }
        }
    }

    func testOtherUsesOfTheAPIMatchOpenSSL() {
        let rc = rv_fasthmac_selftest_api(11)
        XCTAssertEqual(rc, 0, "case \(rc) differs from OpenSSL (see rv_fasthmac_selftest_api)")
    }

    /// The reactor and a keyboard-interactive login's helper thread both run libssh2:
    /// each thread's table and pool are its own.
    func testFourThreadsAtOnce() {
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var codes = [Int](repeating: -9, count: 4)
        }
        let results = Results()
        let packets = self.packets
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let rc = packets.withUnsafeBufferPointer {
                Int(rv_fasthmac_selftest(256, Int32(i % 2), 1 << 20, $0.baseAddress, $0.count, 3, 20, UInt32(i + 21)))
            }
            results.lock.lock()
            results.codes[i] = rc
            results.lock.unlock()
        }
        XCTAssertEqual(results.codes, [0, 0, 0, 0], "no mismatch on any thread")
    }
}
