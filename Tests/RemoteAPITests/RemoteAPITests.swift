import HTTP1
import XCTest
@testable import RemoteAPI

final class RequestGuardTests: XCTestCase {
    func testLoopbackHostNames() {
        for ok in ["localhost", "localhost:23300", "LOCALHOST", "127.0.0.1", "127.0.0.1:80", "127.1.2.3", "[::1]", "[::1]:23300", "app.localhost", "localhost."] {
            XCTAssertTrue(RequestGuard.isLoopback(hostHeader: ok), ok)
        }
        for bad in ["evil.com", "localhost.evil.com", "127.0.0.1.evil.com", "128.0.0.1", "[::2]", "10.0.0.1", "", "localhost:abc", "127.0.0.256", "[::1", "localhost:99999"] {
            XCTAssertFalse(RequestGuard.isLoopback(hostHeader: bad), bad)
        }
    }
}

final class RemoteAPIResponderTests: XCTestCase {
    private func api() -> RemoteAPI {
        let api = RemoteAPI(limits: HTTPLimits())
        api.listenPort = 23300
        api.add("GET", "/api/echo/{id}") { call in
            let q = try call.query()
            call.succeed([("id", .string(call.pathParameters["id"]!)), ("q", .optional(try q.optionalString("q")))])
        }
        api.add("POST", "/api/echo") { call in
            call.succeed([("host", .string(try call.body().string("host")))])
        }
        return api
    }

    private func send(_ api: RemoteAPI, _ request: HTTPRequest) -> (Int, JSON, HTTPResponse) {
        var got: HTTPResponse?
        api.respond(to: request) { got = $0 }
        let r = got!
        return (r.status, try! JSONParser.parse(r.body), r)
    }

    private func request(_ method: String, _ target: String, headers: [(String, String)] = [("Host", "localhost:23300")], body: String = "") -> HTTPRequest {
        HTTPRequest(method: method, target: target, headers: headers.map { (name: $0.0, value: $0.1) },
                    body: Array(body.utf8), hasBody: !body.isEmpty)
    }

    func testRoutesAndAnswers() {
        let (status, json, _) = send(api(), request("GET", "/api/echo/abc?q=x%20y"))
        XCTAssertEqual(status, 200)
        XCTAssertEqual(json, .object([("success", .bool(true)), ("id", .string("abc")), ("q", .string("x y"))]))
    }

    func testUnifiedErrors() {
        let a = api()
        let cases: [(HTTPRequest, Int, String)] = [
            (request("GET", "/nope"), 404, "not_found"),
            (request("PUT", "/api/echo"), 405, "method_not_allowed"),
            (request("GET", "/api/echo/x", headers: [("Host", "attacker.example")]), 403, "forbidden_host"),
            (request("GET", "/api/echo/x", headers: []), 403, "forbidden_host"),
            (request("GET", "/api/echo/x", headers: [("Host", "localhost"), ("Origin", "http://localhost:8081")]), 403, "forbidden_origin"),
            (request("POST", "/api/echo", headers: [("Host", "localhost"), ("Content-Type", "text/plain")], body: "{}"), 415, "unsupported_media_type"),
            (request("POST", "/api/echo", headers: [("Host", "localhost"), ("Content-Type", "application/json")], body: "{"), 400, "invalid_parameters"),
            (request("POST", "/api/echo", headers: [("Host", "localhost"), ("Content-Type", "application/json; charset=utf-8")], body: "{}"), 400, "invalid_parameters"),
            (request("GET", "/api/echo/x?q=%zz"), 400, "invalid_parameters"),
        ]
        for (req, status, code) in cases {
            let (s, json, _) = send(a, req)
            XCTAssertEqual(s, status, "\(req.method) \(req.target)")
            XCTAssertEqual(json["success"], .bool(false))
            XCTAssertEqual(json["error"], .string(code), "\(req.method) \(req.target)")
            guard case .string(let m)? = json["message"] else { return XCTFail("no message") }
            XCTAssertFalse(m.isEmpty)
        }
    }

    func testHostCheckedOnEveryRequestAfterAGoodOne() {
        let a = api()
        XCTAssertEqual(send(a, request("GET", "/api/echo/x", headers: [("Host", "127.0.0.1:23300")])).0, 200)
        XCTAssertEqual(send(a, request("GET", "/api/echo/x", headers: [("Host", "127.0.0.1:23300")])).0, 200, "the same Host again")
        for bad in ["", "attacker.example", "127.0.0.1:23300.evil", "localhost:99999"] {
            let (status, json, _) = send(a, request("GET", "/api/echo/x", headers: [("Host", bad)]))
            XCTAssertEqual(status, 403, "Host '\(bad)'")
            XCTAssertEqual(json["error"], .string("forbidden_host"))
        }
        XCTAssertEqual(send(a, request("GET", "/api/echo/x", headers: [("Host", "[::1]:23300")])).0, 200)
    }

    func test405CarriesAllow() {
        let (_, _, response) = send(api(), request("DELETE", "/api/echo"))
        XCTAssertTrue(response.headers.contains { $0.name == "Allow" && $0.value == "POST" })
    }

    func testOwnOriginIsAllowed() {
        let (s, _, _) = send(api(), request("GET", "/api/echo/x", headers: [("Host", "localhost"), ("Origin", "http://localhost:23300")]))
        XCTAssertEqual(s, 200)
    }

    func testMissingFieldMessageNamesIt() {
        let (s, json, _) = send(api(), request("POST", "/api/echo", headers: [("Host", "localhost"), ("Content-Type", "application/json")], body: #"{"hots":"x"}"#))
        XCTAssertEqual(s, 400)
        XCTAssertEqual(json["message"], .string("Missing required field 'host'"))
    }

    func testHTTPLayerErrorsMapToCodes() {
        let a = api()
        let limits = HTTPLimits()
        for (e, status, code) in [(HTTPParseError.headTooLarge, 431, "headers_too_large"), (.bodyTooLarge, 413, "payload_too_large"), (.malformed("x"), 400, "bad_request")] {
            let r = a.errorResponse(for: e)
            XCTAssertEqual(r.status, status)
            let json = try! JSONParser.parse(r.body)
            XCTAssertEqual(json["error"], .string(code))
            _ = limits
        }
    }
}
