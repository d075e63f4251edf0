// libFuzzer target: the viewer ledger file. Whatever it holds decodes without a crash,
// and what was accepted encodes and decodes back to the same records.
import Remote
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLedger(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let (ledger, _) = ViewerLedger.decode(text)
    let (again, rejected) = ViewerLedger.decode(ledger.encoded())
    precondition(rejected == 0 && again == ledger, "a ledger that does not survive its own encoding")
    return 0
}

@_cdecl("FuzzLedger_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzLedger(data, size) }
}
