// The connect form and the hosts of ~/.ssh/config. A login that asks for more goes
// through the dialogs: a second factor (401 second_factor_required) or a host key to
// decide on (403 host_key_unknown / host_key_mismatch). Secrets stay in the form's
// fields only for the request and are cleared once it is answered.
import { get, post } from "./api.js";
import { h, fill, showError, announce } from "./dom.js";
import { answerChallenge } from "./challenge-dialog.js";
import { decideHostKey } from "./hostkey-dialog.js";
import { store } from "./store.js";

export async function mountConnect() {
  const form = document.getElementById("connect-form");
  const method = form.elements.auth_method;
  const showAuthFields = () => {
    for (const label of form.querySelectorAll("[data-auth]")) label.hidden = label.dataset.auth !== method.value;
  };
  method.addEventListener("change", showAuthFields);
  showAuthFields();
  form.addEventListener("submit", (event) => { event.preventDefault(); submit(form); });
  await listHosts(form);
}

async function listHosts(form) {
  const box = document.getElementById("hosts");
  try {
    const { hosts } = await get("/api/remote/hosts");
    if (hosts.length === 0) return fill(box, h("span", { className: "muted" }, "No hosts in ~/.ssh/config."));
    fill(box, h("span", { className: "muted" }, "From ~/.ssh/config:"), hosts.map((host) =>
      h("button", { type: "button", title: describe(host), onclick: () => useHost(form, host) }, host.alias)));
  } catch (e) {
    fill(box, h("span", { className: "error" }, `Hosts from ~/.ssh/config: ${e.message}`));
  }
}

function describe(host) {
  const target = `${host.user ? host.user + "@" : ""}${host.hostname || host.alias}${host.port ? ":" + host.port : ""}`;
  return host.proxy_jump ? `${target} via ${host.proxy_jump}` : target;
}

function useHost(form, host) {
  form.elements.host.value = host.alias;
  form.elements.username.value = "";
  form.elements.port.value = "";
  form.elements.proxy_jump.value = "";
  form.elements.auth_method.value = host.identity_file ? "key" : "agent";
  form.elements.private_key_path.value = host.identity_file || "";
  form.elements.auth_method.dispatchEvent(new Event("change"));
  form.elements.host.focus();
}

function request(form) {
  const f = form.elements;
  const body = { host: f.host.value.trim(), auth_method: f.auth_method.value };
  if (f.username.value.trim()) body.username = f.username.value.trim();
  if (f.port.value) body.port = Number(f.port.value);
  if (f.proxy_jump.value.trim()) body.proxy_jump = f.proxy_jump.value.trim();
  if (body.auth_method === "key") {
    if (f.private_key_path.value.trim()) body.private_key_path = f.private_key_path.value.trim();
    if (f.passphrase.value) body.passphrase = f.passphrase.value;
  }
  if (body.auth_method === "password") body.password = f.password.value;
  return body;
}

async function submit(form) {
  const button = form.querySelector("button[type=submit]");
  const busy = document.getElementById("connect-busy");
  button.disabled = true;
  busy.hidden = false;
  let body = request(form);
  try {
    for (;;) {
      try {
        const answer = await post("/api/remote/connect", body);
        return connected(form, answer);
      } catch (e) {
        if (e.code === "second_factor_required") {
          const answer = await answerChallenge(e.body.challenge);
          if (answer) connected(form, answer);
          return;
        }
        if ((e.code === "host_key_unknown" || e.code === "host_key_mismatch") && e.body.host_key) {
          const fingerprint = await decideHostKey(e.body.host_key, e.code);
          if (!fingerprint) return;
          body = { ...body, accept_host_key: fingerprint };
          continue;
        }
        throw e;
      }
    }
  } catch (e) {
    showError(e);
  } finally {
    body = null;
    form.elements.password.value = "";
    form.elements.passphrase.value = "";
    button.disabled = false;
    busy.hidden = true;
  }
}

function connected(form, answer) {
  announce(`Connected to ${answer.host}`);
  // The event stream brings the entry too; this shows it without waiting for it.
  if (!store.connections.has(answer.connection_id)) {
    store.apply("connection", { connection_id: answer.connection_id, host: answer.host, status: answer.status,
      reconnecting: false, viewer: null, via: answer.via || [], port: answer.port, username: answer.username,
      server_info: answer.server_info, created_at: answer.created_at });
  }
  form.elements.host.value = "";
}
