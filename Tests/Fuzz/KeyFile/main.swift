// libFuzzer target: key-file sniffing (PEM armour, OpenSSH format, public key blobs,
// key type names) on arbitrary bytes.
@testable import SSH
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeyFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = KeyFile.kind(ofPEM: String(decoding: bytes, as: UTF8.self))
    _ = KeyFile.kind(ofPublicKeyBlob: bytes)
    _ = KeyFile.kind(ofKeyType: String(decoding: bytes.prefix(64), as: UTF8.self))
    return 0
}

@_cdecl("FuzzKeyFile_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzKeyFile(data, size) }
}
