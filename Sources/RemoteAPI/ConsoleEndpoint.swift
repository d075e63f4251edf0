import HTTP1

/// One file of the web console, built into the binary (ConsoleAssets.swift).
struct ConsoleAsset {
    let type: String
    /// Quoted, as the header carries it: the file's SHA-256, shortened.
    let etag: String
    let text: String
}

extension RemoteAPI {
    /// The console's answers carry this policy (decisions.md, "Front door"): everything
    /// from the daemon itself, no framing; and, as neither falls back to default-src,
    /// no <base> and forms posting only here; Trusted Types make any HTML sink throw.
    static let consolePolicy = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; require-trusted-types-for 'script'"

    /// `GET /` (the console's page) and `GET /console/{name}` (its scripts, styles and icon).
    /// Names outside the built-in table are 404: nothing is read from disk.
    public func addConsoleEndpoints() {
        let files = ConsoleAssets.files.mapValues { asset in (asset, Array(asset.text.utf8)) }
        let serve = { (name: String, call: Call) throws in
            guard let (asset, body) = files[name] else { throw APIError.notFound("No console file '\(name)'") }
            var headers: [(name: String, value: String)] = [
                ("Content-Type", asset.type), ("ETag", asset.etag), ("Cache-Control", "no-cache"),
                ("Content-Security-Policy", Self.consolePolicy), ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "no-referrer"),
            ]
            if call.request.header("If-None-Match") == asset.etag {
                headers.removeAll { $0.name == "Content-Type" }
                return call.reply(HTTPResponse(status: 304, headers: headers))
            }
            call.reply(HTTPResponse(status: 200, headers: headers, body: body))
        }
        add("GET", "/") { call in try serve("index.html", call) }
        add("GET", "/console/{name}") { call in try serve(call.pathParameters["name"]!, call) }
    }
}
