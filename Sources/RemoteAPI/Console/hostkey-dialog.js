// The host-key decision: the key the server presents now, the one trusted before (if
// any), and the choice. Cancel has the focus; trusting sends accept_host_key.
import { fill } from "./dom.js";

export function decideHostKey(key, code) {
  const dialog = document.getElementById("hostkey-dialog");
  const form = document.getElementById("hostkey-form");
  const cancel = document.getElementById("hostkey-cancel");
  const trust = document.getElementById("hostkey-trust");
  const changed = code === "host_key_mismatch";
  const where = `${key.host}${key.port && key.port !== 22 ? ":" + key.port : ""}`;
  fill(document.getElementById("hostkey-title"), changed ? `${where}: the host key changed` : `${where}: a new host`);
  fill(document.getElementById("hostkey-lead"), changed
    ? "The server presents a different key than the one rviewer trusted before."
    : "rviewer has not seen this server before. Trust its key only if it is the one the server has.");
  fill(document.getElementById("hostkey-presented"), `${key.key_type || ""} ${key.fingerprint_sha256}`.trim());
  const recorded = key.expected_fingerprint_sha256;
  document.getElementById("hostkey-recorded-label").hidden = !recorded;
  document.getElementById("hostkey-recorded").parentElement.hidden = !recorded;
  fill(document.getElementById("hostkey-recorded"), recorded || "");
  fill(trust, `Trust …${String(key.fingerprint_sha256).slice(-8)} and connect`);
  trust.className = changed ? "danger" : "primary";
  return new Promise((resolve) => {
    const finish = (value) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (event) => { event.preventDefault(); finish(key.fingerprint_sha256); };
    const onCancel = (event) => { if (event) event.preventDefault(); finish(null); };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    cancel.focus();
  });
}
