// libFuzzer target: the API's front: request guards (Host, Origin, Content-Type), the
// router with its path parameters, query decoding and typed parameters, the unified
// error answer, with a method, a target and headers taken from the input.
import HTTP1
@testable import RemoteAPI
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRouter(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let parts = text.split(separator: "\n", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
    guard parts.count >= 2 else { return 0 }
    let api = RemoteAPI(limits: HTTPLimits())
    api.listenPort = 23300
    api.add("GET", "/api/remote/connections/{id}") { call in
        let q = try call.query()
        call.succeed([("id", .string(call.pathParameters["id"]!)), ("n", .optional(try q.optionalInt("lines", range: 1...10).map(String.init))),
                      ("b", .optional(try q.optionalBool("cleanup").map { "\($0)" }))])
    }
    api.add("POST", "/api/remote/connect") { call in
        let p = try call.body()
        call.succeed([("host", .string(try p.string("host"))), ("c", .optional(try p.optionalChoice("auth_method", ["key", "agent"])))])
    }
    api.addConsoleEndpoints()
    var headers: [(name: String, value: String)] = [("Host", parts.count > 2 ? parts[2] : "localhost:23300")]
    if parts.count > 3, !parts[3].isEmpty { headers.append(("Origin", parts[3])) }
    let body = parts.count > 4 ? Array(parts[4].utf8) : []
    if !body.isEmpty { headers.append(("Content-Type", "application/json")) }
    var answered = 0
    api.respond(to: HTTPRequest(method: parts[0], target: parts[1], headers: headers, body: body, hasBody: !body.isEmpty)) { response in
        answered += 1
        precondition((200..<600).contains(response.status), "status \(response.status)")
        if response.status >= 400 {
            guard case .object(let members)? = try? JSONParser.parse(response.body) else { preconditionFailure("an error that is not JSON") }
            precondition(members.first?.0 == "success", "the unified error shape")
        }
    }
    precondition(answered == 1, "answered \(answered) times")
    return 0
}

@_cdecl("FuzzRouter_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzRouter(data, size) }
}
