// libFuzzer target: the HTTP request path. The input is split at points taken from its
// first bytes and fed to llhttp through HTTPParser, driven like HTTPConnection drives it
// (pipelined requests, the connection state machine's events), and every request's
// target goes through the router's path and the query decoder.
@testable import HTTP1
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 2 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data + 2, count: size - 2)
    let step = max(1, Int(data[0]) % 64 + 1), headroom = Int(data[1])
    var limits = HTTPLimits()
    limits.maxHeadBytes = 1024 + headroom * 16
    limits.maxBodyBytes = 4096
    let parser = HTTPParser(limits: limits)
    var machine = HTTPConnectionStateMachine()
    var offset = 0
    var router = Router<Int>()
    router.add("GET", "/api/remote/connections/{id}", 1)
    router.add("POST", "/api/remote/connect", 2)
    feeding: while offset < bytes.count {
        let end = min(bytes.count, offset + step)
        var chunkOffset = offset
        while chunkOffset < end {
            if machine.state == .idle { _ = machine.onRequestStarted() }
            guard machine.state == .reading else { break feeding }
            switch parser.feed(UnsafeRawBufferPointer(rebasing: bytes[chunkOffset..<end])) {
            case .needMore:
                if parser.takeContinueExpected() { _ = machine.onContinueExpected() }
                chunkOffset = end
            case .request(let consumed):
                precondition(consumed > 0 && consumed <= end - chunkOffset, "consumed \(consumed) of \(end - chunkOffset)")
                chunkOffset += consumed
                _ = machine.onRequestComplete()
                let request = parser.takeRequest()
                precondition(request.body.count <= limits.maxBodyBytes, "a body over the limit came through")
                _ = router.match(method: request.method, path: request.path)
                _ = try? QueryString(request.query)
                _ = machine.onResponse(keepAlive: request.keepAlive)
                _ = machine.onOutputDrained()
                if machine.state != .idle { break feeding }
            case .failed:
                _ = machine.onParseError(.malformed("fuzz"))
                break feeding
            }
        }
        offset = end
    }
    return 0
}

@_cdecl("FuzzHTTP_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzHTTP(data, size) }
}
