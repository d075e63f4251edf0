// A connection's Python environments: type, Python, Runicorn version, storage root;
// a Runicorn-only filter and "detect again". The viewer's start form reads the list.
import { get, post, q } from "./api.js";
import { h, fill } from "./dom.js";

export function environmentsBox(id) {
  const body = h("div", {}, h("p", { className: "muted" }, "Looking for environments…"));
  const onlyRunicorn = h("input", { type: "checkbox", checked: true });
  const detect = h("button", { type: "button" }, "Detect again");
  const listeners = new Set();
  let environments = [];

  const render = () => {
    const shown = environments.filter((e) => !onlyRunicorn.checked || e.runicorn_installed);
    if (shown.length === 0) {
      return fill(body, h("p", { className: "empty" }, environments.length === 0
        ? "No Python environments found on this server."
        : "No environment with Runicorn: install it with pip in one, then detect again."));
    }
    fill(body, h("div", { className: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Name", "Type", "Python", "Runicorn", "Storage root"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, shown.map((e) => h("tr", {},
        h("td", { className: "mono" }, e.name), h("td", {}, e.type), h("td", {}, e.python_version || "?"),
        h("td", {}, e.runicorn_installed ? (e.runicorn_version || "yes") : "—"),
        h("td", { className: "mono" }, e.storage_root || "—")))))));
  };

  const load = async (force) => {
    detect.disabled = true;
    const started = Date.now();
    const counter = setInterval(() => fill(body, h("p", { className: "muted" },
      `Detecting… ${Math.round((Date.now() - started) / 1000)} s`)), 1000);
    try {
      if (force) await post("/api/remote/environments/detect", { connection_id: id });
      const answer = await get(`/api/remote/environments?connection_id=${q(id)}`);
      environments = answer.environments;
      render();
      for (const fn of listeners) fn(environments);
    } catch (e) {
      fill(body, h("p", { className: "error" }, `${e.message} (${e.code})`));
    } finally {
      clearInterval(counter);
      detect.disabled = false;
    }
  };

  detect.addEventListener("click", () => load(true));
  onlyRunicorn.addEventListener("change", render);
  const root = h("section", { className: "box" },
    h("h4", {}, "Environments"),
    h("div", { className: "actions" }, h("label", { className: "inline" }, onlyRunicorn, "Runicorn only"), detect),
    body);
  return { root, load, get list() { return environments; }, onChange(fn) { listeners.add(fn); } };
}
