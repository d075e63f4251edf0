import HTTP1
import XCTest
@testable import RemoteAPI

/// The web console's files: built in as they are in the repository, free of every way
/// to turn server text into HTML or code, and served with the contract's CSP.
final class ConsoleTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/RemoteAPI/Console")

    private func files() throws -> [String: String] {
        var out: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.folder.path) {
            var text = try String(contentsOf: Self.folder.appendingPathComponent(name), encoding: .utf8)
            if !text.hasSuffix("\n") { text += "\n" }
            out[name] = text
        }
        return out
    }

    func testTheBuiltInFilesAreTheFolder() throws {
        let disk = try files()
        XCTAssertEqual(Set(disk.keys), Set(ConsoleAssets.files.keys), "the EmbedConsole plugin builds the folder in")
        for (name, text) in disk {
            XCTAssertTrue(ConsoleAssets.files[name]?.text == text, "\(name) differs from its built-in copy")
        }
    }

    /// The sinks that parse HTML or run strings as code, and inline handlers, styles and
    /// scripts (the CSP refuses those; the console must not need them).
    func testNoHTMLSinksNoEvalNoInlineCode() throws {
        let forbidden = ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                         "setAttribute(\"on", "srcdoc", "javascript:"]
        for (name, text) in try files() where name.hasSuffix(".js") || name.hasSuffix(".html") {
            for word in forbidden { XCTAssertFalse(text.contains(word), "\(name) uses \(word)") }
        }
        let html = try XCTUnwrap(try files()["index.html"])
        XCTAssertNil(html.range(of: #"\son[a-z]+\s*="#, options: .regularExpression), "inline event handler in index.html")
        XCTAssertNil(html.range(of: #"\sstyle\s*="#, options: .regularExpression), "inline style in index.html")
        XCTAssertNil(html.range(of: "<style", options: .caseInsensitive))
        XCTAssertNil(html.range(of: #"<script(?![^>]*\ssrc=)"#, options: .regularExpression), "inline script in index.html")
        XCTAssertNil(html.range(of: #"(src|href)="(https?:)?//"#, options: .regularExpression), "a file from another host")
    }

    private func serve(_ target: String, headers: [(String, String)] = []) -> HTTPResponse {
        let api = RemoteAPI(limits: HTTPLimits())
        api.listenPort = 23300
        api.addConsoleEndpoints()
        var got: HTTPResponse?
        api.respond(to: HTTPRequest(method: "GET", target: target,
                                    headers: ([("Host", "localhost:23300")] + headers).map { (name: $0.0, value: $0.1) })) { got = $0 }
        return got!
    }

    private func header(_ r: HTTPResponse, _ name: String) -> String? { r.headers.first { $0.name == name }?.value }

    func testServedWithTheirTypeTheCSPAndAnETag() throws {
        let page = serve("/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(header(page, "Content-Type"), "text/html; charset=utf-8")
        let csp = try XCTUnwrap(header(page, "Content-Security-Policy"))
        XCTAssertTrue(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), csp)
        XCTAssertEqual(String(decoding: page.body, as: UTF8.self), ConsoleAssets.files["index.html"]?.text)
        let script = serve("/console/app.js")
        XCTAssertEqual(header(script, "Content-Type"), "text/javascript; charset=utf-8", "a module with another type is refused")
        let etag = try XCTUnwrap(header(script, "ETag"))
        let again = serve("/console/app.js", headers: [("If-None-Match", etag)])
        XCTAssertEqual(again.status, 304)
        XCTAssertTrue(again.body.isEmpty)
    }

    func testOnlyBuiltInNamesAreServed() throws {
        for target in ["/console/nope.js", "/console/..%2FPackage.swift", "/console/%2e%2e"] {
            let r = serve(target)
            XCTAssertEqual(r.status, 404, target)
            XCTAssertEqual(try JSONParser.parse(r.body)["error"], .string("not_found"), target)
        }
    }
}
