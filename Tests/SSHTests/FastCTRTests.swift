import CFastCTR
import Foundation
import XCTest

/// The AES-CTR keystream cache (Sources/CFastCTR/FastCTR.c): what the cached path
/// produces must equal OpenSSL's own output byte for byte, for one 16-byte block per
/// call (what libssh2 1.10 and 1.11.1 do for CTR), for calls of a whole keystream or
/// more (which pass through to OpenSSL after the cached keystream is used up), and for
/// mixes, across re-keys that re-create a context.
final class FastCTRTests: XCTestCase {
    private func check(_ pattern: [UInt32], bytes: Int = 1 << 20, seed: UInt32 = 1, file: StaticString = #filePath, line: UInt = #line) {
        let rc = pattern.withUnsafeBufferPointer { rv_fastctr_selftest(bytes, $0.baseAddress, pattern.count, seed) }
        XCTAssertEqual(rc, 0, rc > 0 ? "first mismatch at byte \(rc - 1)" : "selftest could not run (\(rc))", file: file, line: line)
    }

    func testOneBlockPerCallAsLibSSH2() {
        let before = rv_fastctr_get_stats()
        check([16])
        let after = rv_fastctr_get_stats()
        XCTAssertEqual(after.contexts - before.contexts, 3, "each re-key re-created a cached context")
        XCTAssertGreaterThanOrEqual(after.bytes_served - before.bytes_served, UInt64(3 << 20), "the blocks came from the keystream")
        XCTAssertEqual(after.bytes_passed_through, before.bytes_passed_through, "nothing bypassed the cache")
    }

    /// Calls of 4 KiB (the keystream's size) and more go to OpenSSL directly; one that
    /// follows a partly used keystream first takes the rest of it, then passes through:
    /// the counter must stay in step across that seam.
    func testLargeCallsPassThroughAfterTheKeystreamLeft() {
        var before = rv_fastctr_get_stats()
        check([35000])
        var after = rv_fastctr_get_stats()
        XCTAssertEqual(after.bytes_served, before.bytes_served, "a fresh keystream is never computed for a large call")
        XCTAssertEqual(after.bytes_passed_through - before.bytes_passed_through, UInt64(3 << 20), "every byte of 3 rounds passed through")

        before = rv_fastctr_get_stats()
        check([16, 32752])   // one block from a new keystream, then 4080 more from it, then OpenSSL
        after = rv_fastctr_get_stats()
        XCTAssertGreaterThan(after.bytes_served - before.bytes_served, 0, "the small calls used the keystream")
        XCTAssertGreaterThan(after.bytes_passed_through - before.bytes_passed_through, 0, "the large ones passed through")
        XCTAssertEqual(after.refills - before.refills, (after.bytes_served - before.bytes_served) / 4096)
    }

    func testMixedSizesAcrossRefills() {
        check([16, 16, 4096, 32, 5000, 16, 4080, 48], bytes: 3_000_017, seed: 7)
        check([16, 8192, 16, 16, 12_000], bytes: 777_777, seed: 9)
    }

    /// Contexts on two threads at once (the reactor and a keyboard-interactive login's
    /// helper thread both run libssh2): each thread's keystream stays its own. With one
    /// lookup cache shared by all threads, one thread could take the other's state (a race
    /// too narrow to show here on x86 in practice; `make test-tsan` reports it at once).
    func testTwoThreadsAtOnceKeepTheirOwnKeystreams() {
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var codes = [Int](repeating: -9, count: 4)
        }
        let results = Results()
        let pattern: [UInt32] = [16]
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let rc = pattern.withUnsafeBufferPointer { Int(rv_fastctr_selftest(1 << 20, $0.baseAddress, 1, UInt32(i + 7))) }
            results.lock.lock()
            results.codes[i] = rc
            results.lock.unlock()
        }
        XCTAssertEqual(results.codes, [0, 0, 0, 0], "no mismatch on any thread")
    }
}
