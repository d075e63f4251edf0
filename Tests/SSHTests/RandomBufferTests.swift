import CRandomBuffer
import XCTest

/// The random-byte buffer under libssh2's padding (Sources/CRandomBuffer): small
/// RAND_bytes calls come from OpenSSL's DRBG output drawn ahead, each byte once.
final class RandomBufferTests: XCTestCase {
    func testSmallCallsAreServedOnceEachAndLookRandom() {
        let before = rv_randbuf_get_stats()
        XCTAssertEqual(rv_randbuf_selftest(50_000, 16), 0, "see rv_randbuf_selftest for the numbered checks")
        let after = rv_randbuf_get_stats()
        guard rv_randbuf_enabled() == 1 else { return }
        XCTAssertGreaterThanOrEqual(after.served - before.served, 70_000, "the small calls came from the buffer")
        // 50,000 calls of 4-19 bytes and 20,000 of 16: about 0.9 MB, 4 KiB per refill.
        let refills = after.refills - before.refills
        XCTAssertGreaterThan(refills, 150)
        XCTAssertLessThan(refills, 400, "one OpenSSL call per 4 KiB, not per call")
    }

    func testPaddingSizedCallsOnSeveralThreads() {
        final class Codes: @unchecked Sendable { let lock = NSLock(); var all = [Int32]() }
        let codes = Codes()
        DispatchQueue.concurrentPerform(iterations: 3) { _ in
            let rc = rv_randbuf_selftest(20_000, 200)
            codes.lock.lock(); codes.all.append(rc); codes.lock.unlock()
        }
        XCTAssertEqual(codes.all, [0, 0, 0])
    }
}
