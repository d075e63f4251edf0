import HTTP1

extension RemoteAPI {
    /// `GET /api/openapi.json` (decisions.md, "Front door"): the OpenAPI 3.1 document of
    /// every endpoint, request and answer, errors included (OpenAPIDocument.swift).
    /// Added last: every route added before it must be in the document; the ones that are
    /// not are returned (the daemon logs them; the tests require none).
    @discardableResult
    public func addOpenAPIEndpoint() -> [String] {
        let body = Array(OpenAPIDocument.json.utf8)
        add("GET", "/api/openapi.json") { call in
            call.reply(HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: body))
        }
        return undocumentedRoutes()
    }

    /// Routes whose method and path the document does not name.
    func undocumentedRoutes() -> [String] {
        guard case .object(let top)? = try? JSONParser.parse(Array(OpenAPIDocument.json.utf8)),
              let paths = top.first(where: { $0.0 == "paths" }), case .object(let byPath) = paths.1 else { return ["(document unreadable)"] }
        return routes.compactMap { route in
            let methods = byPath.first { $0.0 == route.pattern }.flatMap { entry -> [String]? in
                if case .object(let ops) = entry.1 { return ops.map { $0.0.uppercased() } }
                return nil
            } ?? []
            return methods.contains(route.method) ? nil : "\(route.method) \(route.pattern)"
        }
    }
}
