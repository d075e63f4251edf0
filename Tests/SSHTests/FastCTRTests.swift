import CFastCTR
import XCTest

/// The AES-CTR keystream cache under libssh2 1.10 (Sources/CFastCTR/FastCTR.c): what
/// the cached path produces must equal OpenSSL's own output byte for byte, for the
/// call sizes libssh2 1.10 (one 16-byte block) and 1.11 (whole packets) use, across
/// re-keys that re-create a context.
final class FastCTRTests: XCTestCase {
    private func check(_ pattern: [UInt32], bytes: Int = 1 << 20, seed: UInt32 = 1, file: StaticString = #filePath, line: UInt = #line) {
        let rc = pattern.withUnsafeBufferPointer { rv_fastctr_selftest(bytes, $0.baseAddress, pattern.count, seed) }
        XCTAssertEqual(rc, 0, rc > 0 ? "first mismatch at byte \(rc - 1)" : "selftest could not run (\(rc))", file: file, line: line)
    }

    func testOneBlockPerCallAsLibSSH2_1_10() {
        let before = rv_fastctr_get_stats()
        check([16])
        let after = rv_fastctr_get_stats()
        XCTAssertEqual(after.contexts - before.contexts, 3, "each re-key re-created a cached context")
        XCTAssertGreaterThanOrEqual(after.bytes_served - before.bytes_served, UInt64(3 << 20), "the blocks came from the keystream")
    }

    func testWholePacketsAsLibSSH2_1_11() {
        check([35000])
        check([16, 32752])  // 1.11 decrypts the first block alone, then the rest
    }

    func testMixedSizesAcrossRefills() {
        check([16, 16, 4096, 32, 5000, 16, 4080, 48], bytes: 3_000_017, seed: 7)
        check([16, 8192, 16, 16, 12_000], bytes: 777_777, seed: 9)
    }
}
