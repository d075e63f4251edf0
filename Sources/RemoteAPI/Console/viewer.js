// A connection's viewer: start (environment, storage root, local port), status with
// uptime and health, the link that opens it, stop, and its log, followed while shown.
import { get, post, q } from "./api.js";
import { h, fill, showError, announce, formatDuration, safeHref } from "./dom.js";
import { store } from "./store.js";

// The log is read again this often while its panel is open (the API has no log stream).
const LOG_POLL_MS = 1500;
// Lines the log panel keeps.
const LOG_MAX_LINES = 2000;

export function viewerBox(id, environments) {
  const status = h("span", { className: "status" });
  const details = h("div", { className: "facts" });
  const link = h("a", { className: "open", target: "_blank", rel: "noopener", hidden: true }, "Open viewer");
  const error = h("p", { className: "error", hidden: true });
  const env = h("select", { name: "env_name", ariaLabel: "Environment" });
  const root = h("input", { name: "remote_root", placeholder: "the environment's own", spellcheck: false });
  const port = h("input", { name: "local_port", type: "number", min: 1, max: 65535, placeholder: "any free" });
  const start = h("button", { type: "submit", className: "primary" }, "Start viewer");
  const stop = h("button", { type: "button", hidden: true }, "Stop viewer");
  const form = h("form", { className: "inline" },
    h("label", {}, "Environment", env), h("label", {}, "Storage root", root), h("label", {}, "Local port", port), start);
  const log = h("pre", { className: "log", hidden: true });
  const logToggle = h("button", { type: "button", className: "link" }, "Show log");
  let viewer = null, receivedAt = 0, logTimer = null, tick = null, lastLog = [];

  const fillEnvironments = (list) => {
    const keep = env.value;
    const usable = list.filter((e) => e.runicorn_installed);
    fill(env, (usable.length ? usable : list).map((e) =>
      h("option", { value: e.name }, `${e.name}${e.runicorn_installed ? ` (Runicorn ${e.runicorn_version || "?"})` : " (no Runicorn)"}`)));
    if (keep && [...env.options].some((o) => o.value === keep)) env.value = keep;
  };
  environments.onChange(fillEnvironments);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { connection_id: id, env_name: env.value, auto_open: false };
    if (root.value.trim()) body.remote_root = root.value.trim();
    if (port.value) body.local_port = Number(port.value);
    start.disabled = true;
    const started = Date.now();
    const counter = setInterval(() => fill(start, `Starting… ${Math.round((Date.now() - started) / 1000)} s`), 1000);
    fill(start, "Starting…");
    try {
      const answer = await post("/api/remote/viewer/start", body);
      announce(`Viewer running at ${answer.viewer.url}`);
    } catch (e) { showError(e); } finally {
      clearInterval(counter);
      fill(start, "Start viewer");
      start.disabled = false;
    }
  });
  stop.addEventListener("click", async () => {
    stop.disabled = true;
    try { await post("/api/remote/viewer/stop", { connection_id: id }); announce("Viewer stopped"); }
    catch (e) { showError(e); } finally { stop.disabled = false; }
  });

  const readLog = async () => {
    try {
      const { logs } = await get(`/api/remote/viewer/logs?connection_id=${q(id)}&lines=200`);
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      if (logs.join("\n") !== lastLog.join("\n")) {
        // Appends what is new after the last line shown; a log that moved on is shown whole.
        const overlap = lastLog.length ? logs.lastIndexOf(lastLog[lastLog.length - 1]) : -1;
        const fresh = overlap >= 0 ? logs.slice(overlap + 1) : logs;
        if (overlap < 0) log.replaceChildren();
        if (fresh.length) log.append(document.createTextNode(fresh.join("\n") + "\n"));
        while (log.childNodes.length > 1 && log.textContent.split("\n").length > LOG_MAX_LINES) log.firstChild.remove();
        lastLog = logs;
        if (atBottom) log.scrollTop = log.scrollHeight;
      }
    } catch (e) { fill(log, `${e.message} (${e.code})`); }
  };
  logToggle.addEventListener("click", () => {
    log.hidden = !log.hidden;
    fill(logToggle, log.hidden ? "Show log" : "Hide log");
    clearInterval(logTimer);
    if (!log.hidden) { readLog(); logTimer = setInterval(readLog, LOG_POLL_MS); }
  });

  const showUptime = () => {
    if (!viewer || viewer.status !== "running") return;
    const uptime = viewer.uptime_seconds + (Date.now() - receivedAt) / 1000;
    fill(details, h("span", {}, "Up ", h("b", {}, formatDuration(uptime))),
      h("span", {}, "Health ", h("b", {}, viewer.health)),
      viewer.env_name ? h("span", {}, "Env ", h("b", {}, viewer.env_name)) : null,
      viewer.local_port ? h("span", {}, "Local port ", h("b", {}, String(viewer.local_port))) : null);
  };

  const update = () => {
    const next = store.viewers.get(id) || null;
    if (next !== viewer) receivedAt = Date.now();
    viewer = next;
    const s = viewer ? viewer.status : "stopped";
    status.dataset.s = s;
    fill(status, s);
    const running = s === "running" && viewer.url;
    link.hidden = !running;
    if (running) link.href = safeHref(viewer.url);
    fill(link, running ? `Open viewer (${viewer.url})` : "Open viewer");
    error.hidden = !(viewer && viewer.error);
    fill(error, viewer && viewer.error ? viewer.error : "");
    const active = s === "running" || s === "starting";
    form.hidden = active;
    stop.hidden = !active;
    fill(details);
    clearInterval(tick);
    if (s === "running") { showUptime(); tick = setInterval(showUptime, 1000); }
  };

  const box = h("section", { className: "box" },
    h("h4", {}, "Viewer ", status), details, h("div", { className: "actions" }, link, stop), error, form,
    h("div", {}, logToggle), log);
  update();
  return { root: box, update, destroy() { clearInterval(logTimer); clearInterval(tick); } };
}
