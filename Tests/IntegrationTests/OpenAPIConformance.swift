import Foundation
import XCTest

/// Checks every answer `DaemonProcess.request` receives against the daemon's OpenAPI
/// document (decisions.md, "Front door"; #14): the status must be one the document lists
/// for that method and path, and a JSON body must match the schema given for it. Only
/// the JSON Schema keywords the document uses are understood (type, properties,
/// required, enum, const, items, allOf, $ref); an unknown keyword fails the check, so
/// the document cannot grow past what is verified.
enum OpenAPIConformance {
    nonisolated(unsafe) private static var document: [String: Any]?
    private static let lock = NSLock()
    /// Answers checked so far (TESTING.md reports the count).
    nonisolated(unsafe) private(set) static var checked = 0

    /// Problems with one answer; [] when it conforms or the path is not documented.
    static func problems(method: String, target: String, status: Int, body: [UInt8], from daemon: DaemonProcess) -> [String] {
        guard let doc = load(daemon), let paths = doc["paths"] as? [String: [String: Any]] else { return ["no OpenAPI document"] }
        let path = String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        guard let (template, ops) = paths.first(where: { matches(template: $0.key, path: path) }),
              let op = ops[method.lowercased()] as? [String: Any], let responses = op["responses"] as? [String: Any] else {
            return []   // not a documented operation (tests of 404/405 and the guards)
        }
        lock.lock(); checked += 1; lock.unlock()
        guard let response = responses[String(status)] as? [String: Any] else {
            return ["\(method) \(template) answered \(status), which the document does not list (\(responses.keys.sorted()))"]
        }
        guard let content = response["content"] as? [String: Any], let json = content["application/json"] as? [String: Any],
              let schema = json["schema"] else { return [] }
        guard let value = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) else {
            return ["\(method) \(template) \(status): the body is not JSON"]
        }
        return validate(value, schema, in: doc, at: "\(method) \(template) \(status)")
    }

    private static func load(_ daemon: DaemonProcess) -> [String: Any]? {
        lock.lock(); defer { lock.unlock() }
        if let document { return document }
        guard let client = try? RawClient(port: daemon.port, timeout: 10), let r = try? client.get("/api/openapi.json") else { return nil }
        document = r.json
        return document
    }

    /// `/api/remote/connections/{id}` matches `/api/remote/connections/conn_1`.
    static func matches(template: String, path: String) -> Bool {
        let t = template.split(separator: "/", omittingEmptySubsequences: false)
        let p = path.split(separator: "/", omittingEmptySubsequences: false)
        guard t.count == p.count else { return false }
        return zip(t, p).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
    }

    static func validate(_ value: Any, _ schemaAny: Any, in doc: [String: Any], at where_: String) -> [String] {
        guard let schema = schemaAny as? [String: Any] else { return ["\(where_): schema is not an object"] }
        var problems: [String] = []
        for (keyword, rule) in schema {
            switch keyword {
            case "$ref":
                let name = (rule as? String ?? "").components(separatedBy: "/").last ?? ""
                let target = ((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])?[name] ?? [:]
                problems += validate(value, target, in: doc, at: where_)
            case "allOf":
                for part in rule as? [Any] ?? [] { problems += validate(value, part, in: doc, at: where_) }
            case "type":
                let types = (rule as? [String]) ?? [rule as? String ?? ""]
                if !types.contains(where: { is_(value, $0) }) { problems.append("\(where_): \(describe(value)) is not \(types)") }
            case "properties":
                guard let object = value as? [String: Any] else { continue }
                for (name, sub) in rule as? [String: Any] ?? [:] {
                    if let member = object[name] { problems += validate(member, sub, in: doc, at: "\(where_).\(name)") }
                }
            case "required":
                guard let object = value as? [String: Any] else { continue }
                for name in rule as? [String] ?? [] where object[name] == nil { problems.append("\(where_): '\(name)' is missing") }
            case "items":
                for (i, item) in (value as? [Any] ?? []).enumerated() { problems += validate(item, rule, in: doc, at: "\(where_)[\(i)]") }
            case "enum":
                if !(rule as? [Any] ?? []).contains(where: { equal($0, value) }) { problems.append("\(where_): \(describe(value)) is not one of \(rule)") }
            case "const":
                if !equal(rule, value) { problems.append("\(where_): \(describe(value)) is not \(rule)") }
            case "format", "description", "minimum", "maximum":
                continue   // documentation here; ranges are enforced by the parameters' own tests
            default:
                problems.append("\(where_): the checker does not know the keyword '\(keyword)'")
            }
        }
        return problems
    }

    private static func is_(_ value: Any, _ type: String) -> Bool {
        switch type {
        case "null": return value is NSNull
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        case "string": return value is String
        case "boolean":   // corelibs Foundation: JSON booleans are NSNumbers of ObjC type "c" (char)
            return (value as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false
        case "integer": return !is_(value, "boolean") && (value as? NSNumber).map { $0.doubleValue.rounded() == $0.doubleValue } ?? false
        case "number": return !is_(value, "boolean") && value is NSNumber
        default: return false
        }
    }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        if let x = a as? String, let y = b as? String { return x == y }
        if let x = a as? NSNumber, let y = b as? NSNumber { return x == y && is_(a, "boolean") == is_(b, "boolean") }
        return false
    }

    private static func describe(_ value: Any) -> String {
        String(describing: value).prefix(80).description
    }
}

/// The checker itself: a wrong answer is caught, a right one passes.
final class OpenAPIConformanceTests: XCTestCase {
    let doc: [String: Any] = ["components": ["schemas": ["E": ["type": "object", "properties": ["error": ["type": "string"]],
                                                               "required": ["error"]]]]]

    func testWrongTypesMissingFieldsAndUnknownKeywordsAreCaught() {
        let schema: [String: Any] = ["type": "object", "properties": ["n": ["type": "integer"], "s": ["type": ["string", "null"]],
                                                                       "k": ["enum": ["a", "b"]], "ok": ["const": true]],
                                     "required": ["n"]]
        XCTAssertEqual(OpenAPIConformance.validate(["n": 1, "s": NSNull(), "k": "a", "ok": true], schema, in: doc, at: "x"), [])
        XCTAssertEqual(OpenAPIConformance.validate(["n": 1.5], schema, in: doc, at: "x").count, 1, "1.5 is not an integer")
        XCTAssertEqual(OpenAPIConformance.validate(["n": true], schema, in: doc, at: "x").count, 1, "true is not an integer")
        XCTAssertEqual(OpenAPIConformance.validate(["s": 3], schema, in: doc, at: "x").count, 2, "n missing, s of the wrong type")
        XCTAssertEqual(OpenAPIConformance.validate(["n": 1, "k": "c", "ok": false], schema, in: doc, at: "x").count, 2)
        XCTAssertEqual(OpenAPIConformance.validate([:], ["$ref": "#/components/schemas/E"], in: doc, at: "x"), ["x: 'error' is missing"])
        XCTAssertEqual(OpenAPIConformance.validate(1, ["oneOf": []], in: doc, at: "x").count, 1, "an unknown keyword fails")
    }

    func testPathTemplates() {
        XCTAssertTrue(OpenAPIConformance.matches(template: "/api/remote/connections/{id}", path: "/api/remote/connections/conn_1"))
        XCTAssertFalse(OpenAPIConformance.matches(template: "/api/remote/connections/{id}", path: "/api/remote/connections"))
        XCTAssertFalse(OpenAPIConformance.matches(template: "/api/remote/ping", path: "/api/remote/pong"))
    }
}
