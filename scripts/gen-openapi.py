#!/usr/bin/env python3
"""Writes Sources/RemoteAPI/OpenAPIDocument.swift: the OpenAPI 3.1 document of every
endpoint the daemon serves (GET /api/openapi.json), from the table below. The route
list is checked against the daemon's router by RemoteAPITests.OpenAPIDocumentTests.
Usage: scripts/gen-openapi.py Sources/RemoteAPI/OpenAPIDocument.swift"""
import json
import sys

S = lambda **kw: {"type": "string", **kw}
I = lambda **kw: {"type": "integer", **kw}
B = {"type": "boolean"}
N = {"type": "number"}
NS = {"type": ["string", "null"]}
NI = {"type": ["integer", "null"]}
OBJ = lambda props, req=(): {"type": "object", "properties": props, **({"required": list(req)} if req else {})}
ARR = lambda items: {"type": "array", "items": items}
ref = lambda name: {"$ref": f"#/components/schemas/{name}"}

ERRORS = {400: "invalid_parameters (or bad_request)", 401: "authentication_failed / second_factor_required",
          403: "host_key_mismatch / host_key_unknown / forbidden_user / forbidden_host / forbidden_origin",
          404: "connection_not_found / environment_not_found / forward_not_found / challenge_not_found / host_key_not_found / not_found",
          405: "method_not_allowed", 408: "connection_timeout", 409: "viewer_already_running",
          413: "payload_too_large", 415: "unsupported_media_type", 431: "headers_too_large",
          500: "ssh_error / viewer_start_failed / internal_error", 503: "shutting_down"}
GUARD = [403, 405, 413, 415, 431, 503]   # any request: guards and the HTTP layer

def q(name, schema, required=False, desc=""):
    return {"name": name, "in": "query", "required": required, "schema": schema, **({"description": desc} if desc else {})}

CONN_ID = q("connection_id", S(), True)
SERVER_INFO = OBJ({"hostname": NS, "os": NS, "python_version": NS})
CONNECTION = OBJ({"connection_id": S(), "host": S(), "port": I(), "username": S(), "status": S(enum=["connected"]),
                  "server_info": SERVER_INFO, "created_at": S(format="date-time"),
                  "via": ARR(S())})
CONNECTION_ENTRY = OBJ({"connection_id": S(), "host": S(), "status": S(enum=["connected", "disconnected"]), "reconnecting": B,
                        "viewer": {"type": ["object", "null"], "properties": {"status": S(), "url": S()}}, "via": ARR(S()),
                        "port": I(), "username": S(), "server_info": SERVER_INFO, "created_at": S(format="date-time"),
                        "disconnect_reason": NS}, ["connection_id", "host", "status", "viewer"])
VIEWER = OBJ({"status": S(), "url": NS, "local_port": NI, "started_at": NS, "uptime_seconds": I(), "health": S(), "error": NS,
              "env_name": S()}, ["status"])
FORWARD = OBJ({"forward_id": S(), "connection_id": S(), "local_port": I(), "remote_host": S(), "remote_port": I(), "url": S(),
               "bytes_up": I(), "bytes_down": I(), "clients_active": I(), "clients_total": I(), "ssh_sessions": I(),
               "channels_ahead": I()})

ROUTES = [
    ("get", "/api/health", "The daemon itself", [], None,
     OBJ({"status": S(), "version": S(), "started_at": S(), "uptime_seconds": N, "libraries": {"type": "object"},
          "warnings": ARR(S())}, ["status", "warnings"]), []),
    ("get", "/metrics", "Prometheus text format 0.0.4 (rviewer_ names)", [], None, "text", []),
    ("post", "/api/remote/connect", "Connect over SSH", [],
     OBJ({"host": S(), "port": I(minimum=1, maximum=65535), "username": S(), "auth_method": S(enum=["key", "password", "agent"]),
          "private_key_path": S(), "password": S(), "passphrase": S(), "timeout": I(minimum=1, maximum=600),
          "proxy_jump": S(), "accept_host_key": S(pattern="^SHA256:")}, ["host", "auth_method"]),
     CONNECTION, [400, 401, 403, 408, 500]),
    ("post", "/api/remote/connect/respond", "Answer a second-factor challenge", [],
     OBJ({"challenge_id": S(), "responses": ARR(S())}, ["challenge_id", "responses"]), CONNECTION, [400, 401, 403, 404, 408, 500]),
    ("get", "/api/remote/connections", "List connections", [], None,
     OBJ({"connections": ARR(CONNECTION_ENTRY), "total": I()}), []),
    ("delete", "/api/remote/connections/{id}", "Disconnect", [{"name": "id", "in": "path", "required": True, "schema": S()},
                                                               q("cleanup_viewer", B)], None,
     OBJ({"message": S(), "connection_id": S()}), [400, 404]),
    ("get", "/api/remote/ping", "One SSH round trip", [CONN_ID], None, OBJ({"latency_ms": N, "timestamp": S()}), [400, 404, 408, 500]),
    ("get", "/api/remote/health", "Connection, viewer process and tunnel checks", [CONN_ID], None,
     OBJ({"health": S(enum=["healthy", "degraded", "unhealthy"]),
          "checks": OBJ({k: S(enum=["pass", "fail", "skip"]) for k in ("ssh_connection", "viewer_process", "tunnel_active")})}), [400, 404]),
    ("get", "/api/remote/environments", "Detected Python environments", [CONN_ID, q("filter", S(enum=["runicorn_only"]))], None,
     OBJ({"environments": ARR(OBJ({"name": S(), "type": S(enum=["conda", "venv", "virtualenv", "pyenv", "system"]),
                                   "python_version": NS, "runicorn_installed": B, "runicorn_version": NS, "storage_root": NS,
                                   "python_path": S(), "path": S()})), "total": I()}), [400, 404, 500]),
    ("post", "/api/remote/environments/detect", "Detect again", [],
     OBJ({"connection_id": S(), "force_refresh": B}, ["connection_id"]),
     OBJ({"message": S(), "environments_found": I()}), [400, 404, 500]),
    ("get", "/api/remote/config", "Runicorn's configuration in an environment", [CONN_ID, q("env_name", S(), True)], None,
     OBJ({"config": OBJ({"user_root_dir": NS, "viewer_port": I()}), "runicorn_version": NS}), [400, 404, 500]),
    ("post", "/api/remote/viewer/start", "Start the Runicorn viewer", [],
     OBJ({"connection_id": S(), "env_name": S(), "remote_root": S(), "local_port": I(minimum=1, maximum=65535), "auto_open": B},
         ["connection_id", "env_name"]), OBJ({"message": S(), "viewer": VIEWER}), [400, 404, 409, 500]),
    ("post", "/api/remote/viewer/stop", "Stop the viewer", [], OBJ({"connection_id": S(), "cleanup": B}, ["connection_id"]),
     OBJ({"message": S()}), [400, 404, 500]),
    ("get", "/api/remote/viewer/status", "The viewer's status", [CONN_ID], None, OBJ({"viewer": VIEWER}), [400, 404]),
    ("get", "/api/remote/viewer/logs", "The viewer's log", [CONN_ID, q("lines", I(minimum=1))], None,
     OBJ({"logs": ARR(S()), "total_lines": I()}), [400, 404, 500]),
    ("get", "/api/remote/forwards", "List forwards", [], None, OBJ({"forwards": ARR(FORWARD), "total": I()}), []),
    ("post", "/api/remote/forwards", "Forward a local port", [],
     OBJ({"connection_id": S(), "remote_port": I(minimum=1, maximum=65535), "remote_host": S(), "local_port": I(minimum=1, maximum=65535),
          "channels_ahead": I(minimum=0, maximum=16)},
         ["connection_id", "remote_port"]), OBJ({"forward_id": S(), "local_port": I(), "url": S()}), [400, 404, 500]),
    ("delete", "/api/remote/forwards/{id}", "Remove a forward", [{"name": "id", "in": "path", "required": True, "schema": S()}], None,
     OBJ({"message": S(), "forward_id": S()}), [404]),
    ("get", "/api/remote/known-hosts", "Trusted host keys", [], None,
     OBJ({"hosts": ARR(OBJ({"host": S(), "port": NI, "key_type": S(), "fingerprint_sha256": S(), "source": S(enum=["rviewer", "user"]),
                            "added_at": NS})), "total": I()}), []),
    ("delete", "/api/remote/known-hosts", "Forget rviewer's entry for a host", [q("host", S(), True), q("port", I(minimum=1, maximum=65535))],
     None, OBJ({"message": S(), "host": S(), "port": I()}), [400, 404, 500]),
    ("get", "/api/remote/hosts", "Hosts named in ~/.ssh/config", [], None,
     OBJ({"hosts": ARR(OBJ({"alias": S(), "hostname": NS, "user": NS, "port": NI, "identity_file": NS, "proxy_jump": NS})),
          "total": I()}), []),
    ("get", "/api/openapi.json", "This document", [], None, "document", []),
    ("get", "/api/events", "Live events (Server-Sent Events): the current state, then changes; "
     "events connection (a connections list entry), viewer ({connection_id, viewer}), forward (a forwards list entry), "
     "removed ({kind, id}); a ': keepalive' comment every 15 s", [], None, "events", []),
    ("get", "/", "The web console (HTML)", [], None, "html", []),
    ("get", "/console/{name}", "The web console's scripts, styles and icon",
     [{"name": "name", "in": "path", "required": True, "schema": S()}], None, "asset", [404]),
]

def operation(method, path, summary, params, body, ok, errors):
    ok_content = ({"text/plain": {"schema": S()}} if ok == "text" else
                  {"text/event-stream": {"schema": S()}} if ok == "events" else
                  {"text/html": {"schema": S()}} if ok == "html" else
                  {"application/json": {"schema": {"type": "object"}}} if ok == "document" else
                  {"text/javascript": {"schema": S()}, "text/css": {"schema": S()}, "image/svg+xml": {"schema": S()}} if ok == "asset" else
                  {"application/json": {"schema": {"allOf": [OBJ({"success": {"const": True}}, ["success"]), ok]}}})
    op = {"summary": summary, "operationId": (method + path).replace("/", "_").replace("{", "").replace("}", "").replace("-", "_").replace(".", "_"),
          "responses": {"200": {"description": "OK", "content": ok_content}}}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    for code in sorted(set(errors) | set(GUARD)):
        op["responses"][str(code)] = {"description": ERRORS[code], "content": {"application/json": {"schema": ref("Error")}}}
    return op

doc = {
    "openapi": "3.1.0",
    "info": {"title": "rviewer Remote Viewer API", "version": "0.1.0",
             "description": "The Remote Viewer REST API (remote_api.md) and rviewer's extensions (decisions.md). "
                            "Errors share one shape; every error code an endpoint can answer is listed per status."},
    "servers": [{"url": "http://127.0.0.1:23300"}],
    "paths": {},
    "components": {"schemas": {
        "Error": OBJ({"success": {"const": False}, "error": S(), "message": S(),
                      "host_key": {"type": "object"}, "challenge": OBJ({"challenge_id": S(), "name": S(), "instruction": S(),
                                                                        "prompts": ARR(OBJ({"prompt": S(), "echo": B})),
                                                                        "expires_in_seconds": I()})},
                     ["success", "error", "message"])}},
}
for method, path, summary, params, body, ok, errors in ROUTES:
    doc["paths"].setdefault(path, {})[method] = operation(method, path, summary, params, body, ok, errors)

text = json.dumps(doc, separators=(",", ":"), sort_keys=False)
swift = ("/// Generated by scripts/gen-openapi.py: the OpenAPI 3.1 document of every endpoint\n"
         "/// (GET /api/openapi.json). Edit the script, not this file.\n"
         "enum OpenAPIDocument {\n    static let json = #\"\"\"\n" + text + "\n\"\"\"#\n}\n")
open(sys.argv[1], "w").write(swift)
