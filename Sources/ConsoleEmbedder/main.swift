// Build tool (run by the EmbedConsole plugin at build time, no network): turns the web
// console's files into ConsoleAssets.swift, each with its MIME type and an ETag.
//   ConsoleEmbedder <Console folder> <output .swift file>
import Foundation

let types = [".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
             ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"]
let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: ConsoleEmbedder <Console folder> <output.swift>\n".utf8))
    exit(2)
}
let folder = URL(fileURLWithPath: arguments[1])

/// FNV-1a 64 of the bytes, with the length: a validator for caches, changed by any edit.
func etag(_ bytes: [UInt8]) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return String(h, radix: 16) + "-" + String(bytes.count, radix: 16)
}

var entries = ""
for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() {
    let ext = name.firstIndex(of: ".").map { String(name[$0...]) } ?? ""
    guard let type = types[ext] else {
        FileHandle.standardError.write(Data("ConsoleEmbedder: \(name): no MIME type for '\(ext)'\n".utf8))
        exit(1)
    }
    var text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    if !text.hasSuffix("\n") { text += "\n" }
    guard !text.contains("\"\"\"####") else {
        FileHandle.standardError.write(Data("ConsoleEmbedder: \(name) contains the raw-string delimiter\n".utf8))
        exit(1)
    }
    entries += "        \"\(name)\": ConsoleAsset(type: \"\(type)\", etag: \"\\\"\(etag(Array(text.utf8)))\\\"\", text: ####\"\"\"\n\(text)\n\"\"\"####),\n"
}
let swift = """
    // Generated at build time by ConsoleEmbedder (the EmbedConsole plugin) from Sources/RemoteAPI/Console/.
    enum ConsoleAssets {
        static let files: [String: ConsoleAsset] = [

    """ + entries + "    ]\n}\n"
try swift.write(to: URL(fileURLWithPath: arguments[2]), atomically: true, encoding: .utf8)
