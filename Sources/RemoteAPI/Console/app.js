// The console's entry: mounts the views, then opens the live event stream.
import { mountConnect } from "./connect.js";
import { mountConnections } from "./connections.js";
import { connectEvents } from "./events.js";

document.getElementById("alert-close").addEventListener("click", () => { document.getElementById("alert").hidden = true; });
mountConnections();
connectEvents(document.getElementById("stream-state"));
mountConnect();
