import Glibc
import XCTest
@testable import SSH

final class ShellQuoteTests: XCTestCase {
    static let hostile = [
        "", "plain", "with space", "it's", "'", "''", "\"double\"", "$(id)", "`id`", "${HOME}", "$HOME",
        "a;rm -rf /tmp/x", "a && b || c", "a | b", "x\ny", "x\r\ny", "tab\there", "back\\slash", "\\'", "*", "?", "[a-z]",
        "~", "~root", "-n", "--help", "#comment", "!event", "é中文🙂", "a\u{7f}b", "%s%n", "> /tmp/f", "< /etc/passwd", "&",
    ]

    func testQuotedFormHasNoUnquotedSpecials() {
        for s in Self.hostile {
            let q = ShellQuote.quote(s)
            XCTAssertTrue(q.hasPrefix("'") && q.hasSuffix("'"), q)
        }
    }

    /// The real test: /bin/sh must hand every hostile string back byte for byte.
    func testRoundTripsThroughARealShell() throws {
        for s in Self.hostile {
            // popen runs the line through /bin/sh -c, exactly as sshd runs an exec request.
            let f = try XCTUnwrap(popen("printf '%s' " + ShellQuote.quote(s), "r"))
            var data = [UInt8]()
            var buf = [UInt8](repeating: 0, count: 256)
            while true {
                let n = fread(&buf, 1, buf.count, f)
                data += buf[0..<n]
                if n < buf.count { break }
            }
            XCTAssertEqual(pclose(f), 0)
            XCTAssertEqual(String(decoding: data, as: UTF8.self), s, "round trip of \(s.debugDescription)")
        }
    }

    func testCommandQuotesEveryWord() {
        XCTAssertEqual(ShellQuote.command(["python3", "-m", "runicorn", "it's"]), "'python3' '-m' 'runicorn' 'it'\\''s'")
    }
}

final class KeyFileTests: XCTestCase {
    func testPEMLabels() {
        XCTAssertEqual(KeyFile.kind(ofPEM: "-----BEGIN RSA PRIVATE KEY-----\nabc\n"), .rsa)
        XCTAssertEqual(KeyFile.kind(ofPEM: "-----BEGIN EC PRIVATE KEY-----\nabc\n"), .ecdsa)
        XCTAssertEqual(KeyFile.kind(ofPEM: "nonsense"), .unknown)
    }

    func testOpenSSHContainerNamesItsKeyType() {
        func container(_ type: String) -> String {
            func str(_ b: [UInt8]) -> [UInt8] { let n = UInt32(b.count); return [UInt8(n >> 24), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] + b }
            let pub = str(Array(type.utf8)) + str([1, 2, 3])
            let blob = Array("openssh-key-v1".utf8) + [0] + str(Array("aes256-ctr".utf8)) + str(Array("bcrypt".utf8)) + str([9]) + [0, 0, 0, 1] + str(pub)
            return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + Base64.encode(blob) + "\n-----END OPENSSH PRIVATE KEY-----\n"
        }
        XCTAssertEqual(KeyFile.kind(ofPEM: container("ssh-ed25519")), .ed25519)
        XCTAssertEqual(KeyFile.kind(ofPEM: container("ssh-rsa")), .rsa)
        XCTAssertEqual(KeyFile.kind(ofPEM: container("ecdsa-sha2-nistp256")), .ecdsa)
    }

    func testBase64RoundTrip() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(($0 * 37 + 11) & 255) }
            XCTAssertEqual(Base64.decode(Base64.encode(bytes)), bytes)
            XCTAssertEqual(Base64.decode(Base64.encode(bytes, padding: false)), bytes)
        }
        XCTAssertEqual(Base64.encode(Array("foobar".utf8)), "Zm9vYmFy")
        XCTAssertEqual(Base64.encode(Array("fo".utf8), padding: false), "Zm8")
        XCTAssertNil(Base64.decode("@@@"))
    }

    func testMissingKeyFileIsInvalidParameters() {
        XCTAssertThrowsError(try KeyFile.checkReadable("/nonexistent/key")) { error in
            guard case SSHError.invalidParameters(let m) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(m.contains("does not exist"))
        }
        XCTAssertThrowsError(try KeyFile.checkReadable("/tmp")) // a directory
    }
}

final class SSHConfigFileTests: XCTestCase {
    let config = SSHConfigFile(text: """
    # comment
    Host gpu gpu-*
        HostName %h.cluster.example
        User ml
        Port 2222
        IdentityFile ~/.ssh/id_gpu
    Host gpu-7
        Port 7777
    Host !bastion *
        User fallback
        IdentityFile=~/.ssh/id_default
    """)

    func testFirstValueWinsAcrossMatchingBlocks() {
        let r = config.resolve("gpu-7", home: "/home/u")
        XCTAssertEqual(r, .init(hostName: "gpu-7.cluster.example", user: "ml", port: 2222, identityFile: "/home/u/.ssh/id_gpu"))
    }

    func testWildcardAndNegation() {
        XCTAssertEqual(config.resolve("other", home: "/h"), .init(hostName: nil, user: "fallback", port: nil, identityFile: "/h/.ssh/id_default"))
        XCTAssertEqual(config.resolve("bastion", home: "/h"), .init(hostName: nil, user: nil, port: nil, identityFile: nil))
    }

    func testGlob() {
        XCTAssertTrue(SSHConfigFile.glob("gpu-*", "gpu-12"))
        XCTAssertTrue(SSHConfigFile.glob("g?u", "gpu"))
        XCTAssertFalse(SSHConfigFile.glob("gpu-*", "gpu"))
        XCTAssertTrue(SSHConfigFile.glob("*", ""))
    }
}
