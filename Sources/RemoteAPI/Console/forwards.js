// A connection's forwards (ssh -L): add, list with bytes and clients, remove.
import { post, del, q } from "./api.js";
import { h, fill, showError, formatBytes } from "./dom.js";
import { store } from "./store.js";

export function forwardsBox(id) {
  const list = h("div", {});
  const remoteHost = h("input", { name: "remote_host", placeholder: "127.0.0.1", spellcheck: false });
  const remotePort = h("input", { name: "remote_port", type: "number", min: 1, max: 65535, required: true, placeholder: "8888" });
  const localPort = h("input", { name: "local_port", type: "number", min: 1, max: 65535, placeholder: "any free" });
  const ahead = h("input", { name: "channels_ahead", type: "number", min: 0, max: 16, placeholder: "0",
    title: "Channels to the target kept open ahead of clients: a browser's first connections skip the open's round trip" });
  const add = h("button", { type: "submit" }, "Add forward");
  const form = h("form", { className: "inline" },
    h("label", {}, "Remote host", remoteHost), h("label", {}, "Remote port", remotePort), h("label", {}, "Local port", localPort),
    h("label", {}, "Channels ahead", ahead), add);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { connection_id: id, remote_port: Number(remotePort.value) };
    if (remoteHost.value.trim()) body.remote_host = remoteHost.value.trim();
    if (localPort.value) body.local_port = Number(localPort.value);
    if (ahead.value) body.channels_ahead = Number(ahead.value);
    add.disabled = true;
    try { await post("/api/remote/forwards", body); remotePort.value = ""; localPort.value = ""; ahead.value = ""; }
    catch (e) { showError(e); } finally { add.disabled = false; }
  });

  const remove = (forwardID) => async (event) => {
    event.currentTarget.disabled = true;
    try { await del(`/api/remote/forwards/${q(forwardID)}`); } catch (e) { showError(e); }
  };

  const update = () => {
    const mine = [...store.forwards.values()].filter((f) => f.connection_id === id);
    if (mine.length === 0) return fill(list, h("p", { className: "empty" }, "No forwards: reach any port of the server from here."));
    fill(list, h("div", { className: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Local", "Remote", "Up", "Down", "Clients", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, mine.map((f) => h("tr", { data: { forward: f.forward_id } },
        h("td", {}, h("a", { href: f.url, target: "_blank", rel: "noopener" }, `localhost:${f.local_port}`)),
        h("td", { className: "mono" }, `${f.remote_host}:${f.remote_port}`),
        h("td", {}, formatBytes(f.bytes_up)), h("td", {}, formatBytes(f.bytes_down)),
        h("td", {}, `${f.clients_active} now, ${f.clients_total} in all`),
        h("td", {}, h("button", { type: "button", onclick: remove(f.forward_id), ariaLabel: `Remove forward ${f.local_port}` }, "Remove"))))))));
  };
  update();
  return { root: h("section", { className: "box" }, h("h4", {}, "Forwards"), form, list), update };
}
