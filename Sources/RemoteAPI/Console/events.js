// The live event stream (GET /api/events). While the browser reconnects by itself
// (CONNECTING) nothing is done; a stream that ended for good (CLOSED) is opened again
// after 0.5 s * 2**n (capped at 15 s, with jitter). Each open starts from the snapshot.
import { store } from "./store.js";

const NAMES = ["connection", "viewer", "forward", "removed"];
export const backoffMs = (attempt) => Math.min(15000, 500 * 2 ** attempt) * (0.8 + Math.random() * 0.4);

export function connectEvents(indicator) {
  let attempt = 0;
  const show = (state, text) => { indicator.dataset.state = state; indicator.textContent = text; };
  const open = () => {
    const source = new EventSource("/api/events");
    // The snapshot follows the open: it is the whole truth from here.
    source.addEventListener("open", () => { attempt = 0; store.reset(); show("open", "Live"); });
    for (const name of NAMES) {
      source.addEventListener(name, (event) => store.apply(name, JSON.parse(event.data)));
    }
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        show("offline", "Offline: the daemon does not answer");
        setTimeout(open, backoffMs(attempt++));
      } else {
        show("connecting", "Reconnecting…");
      }
    });
  };
  open();
}
