import XCTest
@testable import HTTP1

final class HTTPParserTests: XCTestCase {
    private func feed(_ parser: HTTPParser, _ text: String) -> HTTPParser.Result {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { parser.feed($0) }
    }

    func testParsesRequestAtEverySplitPoint() {
        let text = "POST /api/remote/connect?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nX-Empty:\r\nContent-Length: 13\r\n\r\n{\"host\":\"h\"}\n"
        let bytes = Array(text.utf8)
        for split in 1..<bytes.count {
            let parser = HTTPParser(limits: HTTPLimits())
            let first = bytes[0..<split].withUnsafeBytes { parser.feed($0) }
            let request: HTTPRequest
            if case .request = first {
                XCTAssertEqual(split, bytes.count, "complete before all bytes at split \(split)")
                request = parser.takeRequest()
            } else {
                XCTAssertEqual(first, .needMore, "split \(split)")
                let second = bytes[split...].withUnsafeBytes { parser.feed($0) }
                XCTAssertEqual(second, .request(consumed: bytes.count - split), "split \(split)")
                request = parser.takeRequest()
            }
            XCTAssertEqual(request.method, "POST")
            XCTAssertEqual(request.target, "/api/remote/connect?x=1")
            XCTAssertEqual(request.path, "/api/remote/connect")
            XCTAssertEqual(request.query, "x=1")
            XCTAssertEqual(request.header("content-type"), "application/json")
            XCTAssertEqual(request.header("X-Empty"), "")
            XCTAssertEqual(request.header("HOST"), "localhost")
            XCTAssertEqual(request.headers.count, 4)
            XCTAssertEqual(String(decoding: request.body, as: UTF8.self), "{\"host\":\"h\"}\n")
            XCTAssertTrue(request.keepAlive)
            XCTAssertTrue(request.hasBody)
        }
    }

    func testPipelinedRequestsComeOneAtATime() {
        let parser = HTTPParser(limits: HTTPLimits())
        let text = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        var bytes = Array(text.utf8)[...]
        var targets: [String] = []
        var keepAlive: [Bool] = []
        while !bytes.isEmpty {
            let result = Array(bytes).withUnsafeBytes { parser.feed($0) }
            guard case .request(let consumed) = result else { return XCTFail("got \(result)") }
            let r = parser.takeRequest()
            targets.append(r.target)
            keepAlive.append(r.keepAlive)
            bytes = bytes.dropFirst(consumed)
        }
        XCTAssertEqual(targets, ["/a", "/b", "/c"])
        XCTAssertEqual(keepAlive, [true, true, false])
    }

    func testExpectContinueIsReportedOnceForABodyStillToCome() {
        let parser = HTTPParser(limits: HTTPLimits())
        XCTAssertEqual(feed(parser, "POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n"), .needMore)
        XCTAssertTrue(parser.takeContinueExpected())
        XCTAssertFalse(parser.takeContinueExpected(), "once")
        guard case .request = feed(parser, "{}") else { return XCTFail() }
        XCTAssertEqual(parser.takeRequest().body, Array("{}".utf8))
        let noBody = HTTPParser(limits: HTTPLimits())
        XCTAssertEqual(feed(noBody, "POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n").isRequest, true)
        XCTAssertFalse(noBody.takeContinueExpected(), "no body, nothing to wait for")
        let other = HTTPParser(limits: HTTPLimits())
        _ = feed(other, "POST /x HTTP/1.1\r\nHost: x\r\nExpect: something\r\nContent-Length: 2\r\n\r\n")
        XCTAssertFalse(other.takeContinueExpected())
    }

    func testChunkedBodyIsDecoded() {
        let parser = HTTPParser(limits: HTTPLimits())
        let result = feed(parser, "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n")
        guard case .request = result else { return XCTFail("got \(result)") }
        XCTAssertEqual(String(decoding: parser.takeRequest().body, as: UTF8.self), "{\"a\":1}")
    }

    func testHeadOverLimitIsHeadTooLarge() {
        var limits = HTTPLimits()
        limits.maxHeadBytes = 1024
        let parser = HTTPParser(limits: limits)
        let big = String(repeating: "a", count: 2000)
        XCTAssertEqual(feed(parser, "GET / HTTP/1.1\r\nX-Big: \(big)\r\n\r\n"), .failed(.headTooLarge))
    }

    func testTooManyHeadersIsHeadTooLarge() {
        var limits = HTTPLimits()
        limits.maxHeaderCount = 10
        let parser = HTTPParser(limits: limits)
        let headers = (0..<11).map { "X-\($0): v\r\n" }.joined()
        XCTAssertEqual(feed(parser, "GET / HTTP/1.1\r\n\(headers)\r\n"), .failed(.headTooLarge))
    }

    func testDeclaredBodyOverLimitFailsBeforeTheBody() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 1024
        let parser = HTTPParser(limits: limits)
        XCTAssertEqual(feed(parser, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"), .failed(.bodyTooLarge))
    }

    func testChunkedBodyOverLimitFails() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 1024
        let parser = HTTPParser(limits: limits)
        let chunk = String(repeating: "z", count: 800)
        let text = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n\(chunk)\r\n320\r\n\(chunk)\r\n0\r\n\r\n"
        XCTAssertEqual(feed(parser, text), .failed(.bodyTooLarge))
    }

    func testMalformedRequestsFail() {
        for text in ["GARBAGE\r\n\r\n", "GET / HTTP/1.1\nHost: x\n\n", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"] {
            let parser = HTTPParser(limits: HTTPLimits())
            guard case .failed(.malformed(let reason)) = feed(parser, text) else {
                return XCTFail("accepted \(text.debugDescription)")
            }
            XCTAssertFalse(reason.isEmpty)
        }
    }

    func testHTTP10WithoutKeepAliveCloses() {
        let parser = HTTPParser(limits: HTTPLimits())
        guard case .request = feed(parser, "GET / HTTP/1.0\r\n\r\n") else { return XCTFail() }
        XCTAssertFalse(parser.takeRequest().keepAlive)
    }
}

extension HTTPParser.Result {
    var isRequest: Bool { if case .request = self { return true }; return false }
}
