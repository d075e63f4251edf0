@testable import SSH
import XCTest

final class CipherPreferenceTests: XCTestCase {
    /// libssh2 1.11.1's own order.
    let libssh2_1_11 = ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
                        "aes256-ctr", "aes192-ctr", "aes128-ctr", "aes256-cbc", "3des-cbc"]

    func testCTRModesGoFirstAndNothingIsDropped() {
        let list = CipherPreference.ordered(supported: libssh2_1_11, aesInstructions: true)
        XCTAssertEqual(list, ["aes128-ctr", "aes192-ctr", "aes256-ctr", "chacha20-poly1305@openssh.com",
                              "aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-cbc", "3des-cbc"])
    }

    func testLibssh2OrderStandsWithoutAESInstructions() {
        XCTAssertNil(CipherPreference.ordered(supported: libssh2_1_11, aesInstructions: false))
    }

    func testNothingToChangeWhenCTRIsFirstOrAbsent() {
        XCTAssertNil(CipherPreference.ordered(supported: ["aes128-ctr", "aes192-ctr", "aes256-ctr", "aes256-cbc"], aesInstructions: true))
        XCTAssertNil(CipherPreference.ordered(supported: ["chacha20-poly1305@openssh.com", "aes256-cbc"], aesInstructions: true))
        XCTAssertNil(CipherPreference.ordered(supported: [], aesInstructions: true))
    }

    func testOnlyTheCTRModesThisBuildHasAreNamed() {
        XCTAssertEqual(CipherPreference.ordered(supported: ["aes256-cbc", "aes256-ctr"], aesInstructions: true),
                       ["aes256-ctr", "aes256-cbc"])
    }
}
