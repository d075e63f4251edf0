// What the console knows: connections, their viewers and forwards, fed by the event
// stream (and by answers to the console's own requests). Views subscribe to changes.
const connections = new Map();   // id -> connection list entry
const viewers = new Map();       // connection id -> viewer status object
const forwards = new Map();      // forward id -> forwards list entry
const listeners = new Set();

export const store = {
  connections, viewers, forwards,
  subscribe(fn) { listeners.add(fn); },
  changed(kind, id) { for (const fn of listeners) fn(kind, id); },
  apply(name, data) {
    switch (name) {
      case "connection": connections.set(data.connection_id, data); this.changed("connection", data.connection_id); break;
      case "viewer": viewers.set(data.connection_id, data.viewer); this.changed("viewer", data.connection_id); break;
      case "forward": forwards.set(data.forward_id, data); this.changed("forward", data.connection_id); break;
      case "removed":
        if (data.kind === "connection") {
          connections.delete(data.id); viewers.delete(data.id);
          this.changed("removed", data.id);
        } else if (data.kind === "forward") {
          const f = forwards.get(data.id);
          forwards.delete(data.id);
          if (f) this.changed("forward", f.connection_id);
        }
        break;
    }
  },
  // The stream starts again with the whole state: forget what it will not repeat.
  reset() {
    const gone = [...connections.keys()];
    connections.clear(); viewers.clear(); forwards.clear();
    for (const id of gone) this.changed("removed", id);
  },
};
