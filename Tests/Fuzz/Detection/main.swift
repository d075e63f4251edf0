// libFuzzer target: the detection script's output as the daemon parses it (a hostile
// or broken server can print anything).
import Remote
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDetection(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let result = DetectionResult.parse(text)
    for env in result.environments { _ = result.environment(named: env.name) }
    return 0
}

@_cdecl("FuzzDetection_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzDetection(data, size) }
}
