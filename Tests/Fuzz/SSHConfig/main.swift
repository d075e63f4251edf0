// libFuzzer target: ~/.ssh/config (Host and Match blocks, Include through a callback
// that hands back part of the input, tokens) resolved for aliases taken from the input.
import SSH
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSSHConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var includes = 0
    let config = SSHConfigFile(text: text, include: { _ in
        includes += 1
        return includes < 4 ? [String(text.prefix(200))] : []
    })
    for alias in ["gpu", "a", "*", ""] + text.split(separator: " ").prefix(4).map(String.init) {
        let resolved = config.resolve(alias, home: "/home/u")
        _ = resolved.hostName?.expandingSSHTokens(["h": alias, "p": "22", "r": "u", "%": "%"])
    }
    return 0
}

@_cdecl("FuzzSSHConfig_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzSSHConfig(data, size) }
}
