import HTTP1

/// Typed access to a request's JSON body or query string. Every failure is a 400
/// `invalid_parameters` whose message names the offending field.
public struct Parameters {
    private enum Source {
        case body(JSON)
        case query(QueryString)
    }
    private let source: Source

    /// Decodes a JSON object body; malformed JSON or a non-object is a 400.
    public init(body: [UInt8]) throws {
        guard !body.isEmpty else { throw APIError.invalidParameters("Request body is empty; a JSON object is required") }
        let value: JSON
        do {
            value = try JSONParser.parse(body)
        } catch let error as JSONParser.SyntaxError {
            throw APIError.invalidParameters("Malformed JSON: \(error)")
        }
        guard case .object = value else {
            throw APIError.invalidParameters("Request body must be a JSON object, got \(value.typeName)")
        }
        source = .body(value)
    }

    public init(query: Substring) throws {
        do {
            source = .query(try QueryString(query))
        } catch QueryString.DecodeError.malformed(let key) {
            throw APIError.invalidParameters("Malformed percent-encoding in query parameter '\(key)'")
        }
    }

    private func raw(_ field: String) -> JSON? {
        switch source {
        case .body(let json):
            guard let v = json[field], v != .null else { return nil }
            return v
        case .query(let q):
            return q.first(field).map(JSON.string)
        }
    }

    private var isQuery: Bool { if case .query = source { return true }; return false }

    public func string(_ field: String) throws -> String {
        guard let s = try optionalString(field) else { throw APIError.invalidParameters("Missing required field '\(field)'") }
        return s
    }

    public func optionalString(_ field: String) throws -> String? {
        guard let v = raw(field) else { return nil }
        guard case .string(let s) = v else {
            throw APIError.invalidParameters("Field '\(field)' must be a string, got \(v.typeName)")
        }
        guard !s.isEmpty else { throw APIError.invalidParameters("Field '\(field)' must not be empty") }
        // Every string goes on as a C string (libssh2, file paths, the remote command):
        // a NUL would silently cut it short (a user name, a key path, a quoted argument).
        guard !s.utf8.contains(0) else { throw APIError.invalidParameters("Field '\(field)' must not contain a NUL character") }
        return s
    }

    /// A required array of strings (NUL-free; may be empty strings: a response can be "").
    public func strings(_ field: String) throws -> [String] {
        guard let v = raw(field) else { throw APIError.invalidParameters("Missing required field '\(field)'") }
        guard case .array(let items) = v else { throw APIError.invalidParameters("Field '\(field)' must be an array of strings, got \(v.typeName)") }
        return try items.map { item in
            guard case .string(let s) = item, !s.utf8.contains(0) else {
                throw APIError.invalidParameters("Field '\(field)' must be an array of strings without NUL characters")
            }
            return s
        }
    }

    public func optionalInt(_ field: String, range: ClosedRange<Int>) throws -> Int? {
        guard let v = raw(field) else { return nil }
        let n: Double
        switch v {
        case .number(let d): n = d
        case .string(let s) where isQuery:
            guard let d = Int(s) else { throw APIError.invalidParameters("Field '\(field)' must be an integer, got '\(s)'") }
            n = Double(d)
        default: throw APIError.invalidParameters("Field '\(field)' must be an integer, got \(v.typeName)")
        }
        guard n == n.rounded(), n >= Double(range.lowerBound), n <= Double(range.upperBound) else {
            throw APIError.invalidParameters("Field '\(field)' must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(n)
    }

    public func optionalBool(_ field: String) throws -> Bool? {
        guard let v = raw(field) else { return nil }
        switch v {
        case .bool(let b): return b
        case .string(let s) where isQuery:
            switch s.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw APIError.invalidParameters("Field '\(field)' must be true or false, got '\(s)'")
            }
        default: throw APIError.invalidParameters("Field '\(field)' must be a boolean, got \(v.typeName)")
        }
    }

    /// A string field that must be one of `choices`.
    public func optionalChoice(_ field: String, _ choices: [String]) throws -> String? {
        guard let s = try optionalString(field) else { return nil }
        guard choices.contains(s) else {
            throw APIError.invalidParameters("Field '\(field)' must be one of \(choices.map { "'\($0)'" }.joined(separator: ", "))")
        }
        return s
    }
}
