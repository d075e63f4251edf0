// Calls the daemon's REST API; every failure becomes an ApiError carrying the unified
// error body ({success: false, error, message, ...}).
export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error ? body.error : "http_error";
    this.body = body || {};
  }
}

export async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { error: "daemon_unreachable", message: "The rviewer daemon does not answer (is it running?)" });
  }
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok || !data || data.success === false) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
export const del = (path) => call("DELETE", path);
export const q = encodeURIComponent;
