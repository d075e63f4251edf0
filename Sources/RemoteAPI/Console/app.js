// The console's entry: mounts the views, opens the live event stream, and shows what
// the daemon warns about (GET /api/health `warnings`, e.g. a state directory it cannot write).
import { get } from "./api.js";
import { showError } from "./dom.js";
import { mountConnect } from "./connect.js";
import { mountConnections } from "./connections.js";
import { connectEvents } from "./events.js";

// The daemon's warnings are read again this often.
const WARNINGS_EVERY_MS = 60000;

async function showWarnings() {
  try {
    const { warnings } = await get("/api/health");
    if (warnings && warnings.length) showError({ message: warnings.join("\n"), code: "daemon_warning" });
  } catch (_) { /* the event stream's indicator already says when the daemon is gone */ }
}

document.getElementById("alert-close").addEventListener("click", () => { document.getElementById("alert").hidden = true; });
mountConnections();
connectEvents(document.getElementById("stream-state"));
mountConnect();
showWarnings();
setInterval(showWarnings, WARNINGS_EVERY_MS);
