// libFuzzer target: known_hosts lines (plain, hashed |1|, [host]:port, markers,
// comments) as the listing reads them, and the fingerprint of a base64 key.
@testable import SSH
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKnownHosts(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    for line in text.split(separator: "\n") {
        for entry in KnownHosts.parse(line, source: .user) { _ = entry.fingerprint }
        if let key = line.split(separator: " ").dropFirst(2).first { _ = KnownHosts.fingerprint(base64Key: String(key)) }
    }
    return 0
}

@_cdecl("FuzzKnownHosts_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzKnownHosts(data, size) }
}
