// One card per connection, keyed by id and patched in place (forms in it keep their
// input and focus): status, route, server, latency, and the connection's environments,
// viewer and forwards.
import { get, del, q } from "./api.js";
import { h, fill, showError, announce } from "./dom.js";
import { store } from "./store.js";
import { environmentsBox } from "./environments.js";
import { viewerBox } from "./viewer.js";
import { forwardsBox } from "./forwards.js";

// A connected card measures its latency this often (one SSH round trip each).
const PING_EVERY_MS = 15000;
const cards = new Map();

export function mountConnections() {
  const list = document.getElementById("connections");
  const empty = document.getElementById("no-connections");
  store.subscribe((kind, id) => {
    if (kind === "removed") {
      const card = cards.get(id);
      if (card) { card.destroy(); cards.delete(id); }
    } else if (store.connections.has(id)) {
      if (!cards.has(id)) {
        const card = makeCard(id);
        cards.set(id, card);
        list.append(card.root);
      }
      cards.get(id).update(kind);
    }
    empty.hidden = cards.size > 0;
  });
}

function makeCard(id) {
  const title = h("h3", {});
  const status = h("span", { className: "status" });
  const facts = h("div", { className: "facts" });
  const latency = h("span", {});
  const environments = environmentsBox(id);
  const viewer = viewerBox(id, environments);
  const forwards = forwardsBox(id);
  const disconnect = (cleanup) => async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await del(`/api/remote/connections/${q(id)}?cleanup_viewer=${cleanup}`);
      announce("Disconnected");
    } catch (e) { showError(e); } finally { button.disabled = false; }
  };
  const ping = async () => {
    const entry = store.connections.get(id);
    if (!entry || entry.status !== "connected") return fill(latency, "");
    try {
      const { latency_ms } = await get(`/api/remote/ping?connection_id=${q(id)}`);
      fill(latency, "Latency ", h("b", {}, `${latency_ms.toFixed(1)} ms`));
    } catch (e) { fill(latency, "Latency ", h("b", {}, e.message)); }
  };
  const root = h("article", { className: "conn", data: { connection: id } },
    h("div", { className: "conn-head" }, title, status,
      h("div", { className: "actions" },
        h("button", { type: "button", onclick: ping }, "Ping"),
        h("button", { type: "button", onclick: disconnect(true) }, "Disconnect"),
        h("button", { type: "button", onclick: disconnect(false), title: "Leave the viewer running on the server" },
          "Disconnect, keep viewer"))),
    facts,
    h("div", { className: "grid2" }, environments.root, viewer.root),
    forwards.root);
  const timer = setInterval(ping, PING_EVERY_MS);
  ping();
  environments.load(false);
  return {
    root,
    update(kind) {
      const c = store.connections.get(id);
      if (kind === "viewer") return viewer.update();
      if (kind === "forward") return forwards.update();
      const state = c.reconnecting ? "reconnecting" : c.status;
      fill(title, c.host);
      status.dataset.s = state;
      fill(status, state === "reconnecting" ? "reconnecting…" : state);
      const info = c.server_info || {};
      fill(facts,
        h("span", {}, "Login ", h("b", {}, `${c.username || "?"}@${c.host}:${c.port || 22}`)),
        c.via && c.via.length ? h("span", {}, "Via ", h("b", {}, c.via.join(" → "))) : null,
        info.hostname ? h("span", {}, "Server ", h("b", {}, `${info.hostname} (${info.os || "?"})`)) : null,
        info.python_version ? h("span", {}, "Python ", h("b", {}, info.python_version)) : null,
        latency,
        c.disconnect_reason ? h("span", { className: "error" }, c.disconnect_reason) : null,
        h("span", { className: "mono" }, id));
      viewer.update();
    },
    destroy() { clearInterval(timer); viewer.destroy(); root.remove(); },
  };
}
