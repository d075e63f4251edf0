// libFuzzer target: the JSON parser and typed parameter decoding. What parses must
// encode and parse back to the same value; every accessor answers or throws, nothing else.
@testable import RemoteAPI
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let value = try? JSONParser.parse(bytes) {
        let again = try? JSONParser.parse(value.encoded())
        precondition(again == value, "parse(encode(x)) != x")
    }
    if let p = try? Parameters(body: bytes) {
        for field in ["host", "port", "responses", "auth_method", "timeout"] {
            _ = try? p.string(field)
            _ = try? p.optionalString(field)
            _ = try? p.strings(field)
            _ = try? p.optionalInt(field, range: 1...65535)
            _ = try? p.optionalBool(field)
            _ = try? p.optionalChoice(field, ["key", "password", "agent"])
        }
    }
    return 0
}

@_cdecl("FuzzJSON_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzJSON(data, size) }
}
