import XCTest
@testable import RemoteAPI

final class JSONTests: XCTestCase {
    private func parse(_ s: String) throws -> JSON { try JSONParser.parse(Array(s.utf8)) }

    func testParsesAllValueKinds() throws {
        let v = try parse(#" {"s":"a\"b\u00e9\ud83d\ude00","n":-1.5e2,"i":22,"t":true,"f":false,"z":null,"a":[1,[]],"o":{}} "#)
        XCTAssertEqual(v["s"], .string("a\"bé😀"))
        XCTAssertEqual(v["n"], .number(-150))
        XCTAssertEqual(v["i"], .number(22))
        XCTAssertEqual(v["t"], .bool(true))
        XCTAssertEqual(v["f"], .bool(false))
        XCTAssertEqual(v["z"], .null)
        XCTAssertEqual(v["a"], .array([.number(1), .array([])]))
        XCTAssertEqual(v["o"], .object([]))
    }

    func testRejectsMalformedInput() {
        for bad in ["", "{", "{\"a\":}", "{\"a\":1,}", "[1,]", "{'a':1}", "{\"a\":1} x", "01", "1.", "-", "NaN",
                    "\"\\x\"", "\"\u{01}\"", "\"\\ud800\"", "tru", "{\"a\" 1}", "1e999"] {
            XCTAssertThrowsError(try parse(bad), bad.debugDescription)
        }
    }

    func testNestingIsBounded() {
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        XCTAssertThrowsError(try parse(deep))
        let ok = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        XCTAssertNoThrow(try parse(ok))
    }

    func testEncodesInKeyOrderAndEscapes() {
        let v = JSON.object([("success", .bool(true)), ("s", .string("q\"\\\n\u{01}é")), ("n", .int(3)), ("f", .number(0.5)), ("z", .null), ("a", .array([]))])
        XCTAssertEqual(String(decoding: v.encoded(), as: UTF8.self),
                       #"{"success":true,"s":"q\"\\\n\u0001é","n":3,"f":0.5,"z":null,"a":[]}"#)
    }

    func testRoundTrip() throws {
        let v = JSON.object([("k", .string("line\nquote\"tab\t")), ("arr", .array([.number(1.25), .bool(false)]))])
        XCTAssertEqual(try JSONParser.parse(v.encoded()), v)
    }
}

final class ParametersTests: XCTestCase {
    private func body(_ s: String) throws -> Parameters { try Parameters(body: Array(s.utf8)) }

    private func message(_ f: () throws -> Void) -> String? {
        do { try f(); return nil } catch let e as APIError {
            XCTAssertEqual(e.status, 400)
            XCTAssertEqual(e.code, "invalid_parameters")
            return e.message
        } catch { return "unexpected \(error)" }
    }

    func testMalformedJSONIs400() {
        let m = message { _ = try body("{\"host\": ") }
        XCTAssertTrue(m?.hasPrefix("Malformed JSON") == true, m ?? "")
        XCTAssertTrue(message { _ = try body("[1]") }?.contains("JSON object") == true)
        XCTAssertTrue(message { _ = try body("") }?.contains("empty") == true)
    }

    func testMissingFieldIsNamed() throws {
        let p = try body(#"{"host":"h"}"#)
        XCTAssertEqual(message { _ = try p.string("username") }, "Missing required field 'username'")
    }

    func testWrongTypesNameTheField() throws {
        let p = try body(#"{"host":5,"port":"22","timeout":1.5,"flag":"yes","big":70000}"#)
        XCTAssertEqual(message { _ = try p.string("host") }, "Field 'host' must be a string, got a number")
        XCTAssertEqual(message { _ = try p.optionalInt("port", range: 1...65535) }, "Field 'port' must be an integer, got a string")
        XCTAssertEqual(message { _ = try p.optionalInt("timeout", range: 1...600) }, "Field 'timeout' must be an integer in 1...600")
        XCTAssertEqual(message { _ = try p.optionalBool("flag") }, "Field 'flag' must be a boolean, got a string")
        XCTAssertEqual(message { _ = try p.optionalInt("big", range: 1...65535) }, "Field 'big' must be an integer in 1...65535")
    }

    func testNULInAStringIsRefusedNamingTheField() throws {
        let p = try body(#"{"username":"root\u0000x","remote_root":"/data/\u0000; rm -rf ~"}"#)
        XCTAssertEqual(message { _ = try p.string("username") }, "Field 'username' must not contain a NUL character")
        XCTAssertEqual(message { _ = try p.optionalString("remote_root") }, "Field 'remote_root' must not contain a NUL character")
        let q = try Parameters(query: "connection_id=conn_1%00")
        XCTAssertEqual(message { _ = try q.string("connection_id") }, "Field 'connection_id' must not contain a NUL character")
    }

    func testGoodValues() throws {
        let p = try body(#"{"host":"h","port":2222,"force_refresh":true,"nothing":null}"#)
        XCTAssertEqual(try p.string("host"), "h")
        XCTAssertEqual(try p.optionalInt("port", range: 1...65535), 2222)
        XCTAssertEqual(try p.optionalBool("force_refresh"), true)
        XCTAssertNil(try p.optionalString("nothing"))
    }

    func testQueryParametersConvertTypes() throws {
        let q = try Parameters(query: "lines=50&cleanup_viewer=false&filter=runicorn_only")
        XCTAssertEqual(try q.optionalInt("lines", range: 1...10000), 50)
        XCTAssertEqual(try q.optionalBool("cleanup_viewer"), false)
        XCTAssertEqual(try q.optionalChoice("filter", ["all", "runicorn_only"]), "runicorn_only")
        let bad = try Parameters(query: "lines=abc&filter=x")
        XCTAssertEqual(message { _ = try bad.optionalInt("lines", range: 1...10000) }, "Field 'lines' must be an integer, got 'abc'")
        XCTAssertEqual(message { _ = try bad.optionalChoice("filter", ["all", "runicorn_only"]) }, "Field 'filter' must be one of 'all', 'runicorn_only'")
        XCTAssertNotNil(message { _ = try Parameters(query: "a=%zz") })
    }
}
