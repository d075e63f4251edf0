import XCTest
@testable import HTTP1

final class RouterTests: XCTestCase {
    private func router() -> Router<String> {
        var r = Router<String>()
        r.add("GET", "/api/remote/connections", "list")
        r.add("DELETE", "/api/remote/connections/{id}", "delete")
        r.add("POST", "/api/remote/connect", "connect")
        r.add("GET", "/api/health", "health")
        return r
    }

    func testLiteralAndParameterRoutes() {
        let r = router()
        guard case .found("list", let p) = r.match(method: "GET", path: "/api/remote/connections") else { return XCTFail() }
        XCTAssertEqual(p, [:])
        guard case .found("delete", let q) = r.match(method: "DELETE", path: "/api/remote/connections/conn_1a2b3c4d") else { return XCTFail() }
        XCTAssertEqual(q, ["id": "conn_1a2b3c4d"])
    }

    func testHeadIsAGetRoute() {
        guard case .found("health", _) = router().match(method: "HEAD", path: "/api/health") else { return XCTFail() }
        guard case .found("list", _) = router().match(method: "HEAD", path: "/api/remote/connections") else { return XCTFail() }
        guard case .methodNotAllowed(let allowed) = router().match(method: "HEAD", path: "/api/remote/connect") else { return XCTFail() }
        XCTAssertEqual(allowed, ["POST"])
    }

    func testTrailingSlashMatches() {
        guard case .found("health", _) = router().match(method: "GET", path: "/api/health/") else { return XCTFail() }
    }

    func testParameterIsPercentDecoded() {
        guard case .found(_, let p) = router().match(method: "DELETE", path: "/api/remote/connections/a%2Fb%20c") else { return XCTFail() }
        XCTAssertEqual(p["id"], "a/b c")
    }

    func testWrongMethodIs405WithAllowedMethods() {
        guard case .methodNotAllowed(let allowed) = router().match(method: "PUT", path: "/api/remote/connections") else { return XCTFail() }
        XCTAssertEqual(allowed, ["GET"])
    }

    func testUnknownPathsAre404() {
        let r = router()
        for path in ["/", "/api", "/api/remote/connections/a/b", "/api//health", "/API/health"] {
            guard case .notFound = r.match(method: "GET", path: Substring(path)) else { return XCTFail(path) }
        }
    }

    func testEmptyOrBadParameterDoesNotMatch() {
        let r = router()
        guard case .notFound = r.match(method: "DELETE", path: "/api/remote/connections/%zz") else { return XCTFail() }
    }
}

final class RequestTargetTests: XCTestCase {
    func testPathAndQuerySplitAtTheFirstQuestionMark() {
        let r = HTTPRequest(method: "GET", target: "/api/remote/config?env_name=t%C3%A9st&x=a?b")
        XCTAssertEqual(r.path, "/api/remote/config")
        XCTAssertEqual(r.query, "env_name=t%C3%A9st&x=a?b")
        let raw = HTTPRequest(method: "GET", target: "/é/ü?ß=1")   // non-ASCII bytes before and after
        XCTAssertEqual(raw.path, "/é/ü")
        XCTAssertEqual(raw.query, "ß=1")
        let none = HTTPRequest(method: "GET", target: "/api/health")
        XCTAssertEqual(none.path, "/api/health")
        XCTAssertEqual(none.query, "")
        XCTAssertEqual(HTTPRequest(method: "GET", target: "/x?").query, "")
    }
}

final class QueryStringTests: XCTestCase {
    func testDecodesPercentAndPlus() throws {
        let q = try QueryString("connection_id=conn_1&env_name=my+env%2F%C3%A9&flag")
        XCTAssertEqual(q.first("connection_id"), "conn_1")
        XCTAssertEqual(q.first("env_name"), "my env/é")
        XCTAssertEqual(q.first("flag"), "")
        XCTAssertNil(q.first("missing"))
    }

    func testRepeatedKeysKeepFirst() throws {
        let q = try QueryString("a=1&a=2&&b=%3D")
        XCTAssertEqual(q.first("a"), "1")
        XCTAssertEqual(q.items.count, 3)
        XCTAssertEqual(q.first("b"), "=")
    }

    func testSplitsOnBytesAcrossRawNonASCIIAndExtraEquals() throws {
        let q = try QueryString("name=é́x&x=1=2&=v&k=")
        XCTAssertEqual(q.first("name"), "é́x", "a raw combining mark stays with its letter")
        XCTAssertEqual(q.first("x"), "1=2", "the first = splits")
        XCTAssertEqual(q.first(""), "v")
        XCTAssertEqual(q.first("k"), "")
        XCTAssertEqual(q.items.count, 4)
    }

    func testMalformedEscapesAreErrors() {
        for raw in ["a=%", "a=%4", "a=%zz", "bad%g1=1", "a=%ff%fe"] {
            XCTAssertThrowsError(try QueryString(Substring(raw)), raw)
        }
    }

    func testHostileValuesAreKeptVerbatim() throws {
        let q = try QueryString("env_name=%24(rm%20-rf%20~)%3B%60id%60%0A'%22")
        XCTAssertEqual(q.first("env_name"), "$(rm -rf ~);`id`\n'\"")
    }
}
