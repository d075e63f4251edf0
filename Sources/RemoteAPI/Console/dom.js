// The one way the console makes DOM: strings always become text nodes, properties come
// from an allow-list, listeners go through addEventListener. No HTML is ever parsed.
const PROPS = new Set(["className", "id", "type", "name", "value", "placeholder", "title", "disabled", "hidden",
  "min", "max", "required", "checked", "colSpan", "htmlFor", "spellcheck", "autocomplete", "ariaLabel", "scope", "target", "rel"]);

export function h(tag, props = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "data") for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    else if (key === "href") el.href = safeHref(value);
    else if (key === "ariaLabel") el.setAttribute("aria-label", String(value));
    else if (PROPS.has(key)) el[key] = value;
    else throw new Error(`h(): property ${key} is not allowed`);
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
}

// Replaces an element's children (text for strings).
export function fill(el, ...kids) {
  el.replaceChildren();
  append(el, kids);
  return el;
}

// Only loopback http(s) links: a tunnel URL the daemon hands out, nothing else.
export function safeHref(url) {
  try {
    const u = new URL(String(url), location.href);
    const loopback = u.hostname === "localhost" || u.hostname === "127.0.0.1" || u.hostname === "[::1]";
    if ((u.protocol === "http:" || u.protocol === "https:") && loopback) return u.href;
  } catch (_) { /* not a URL */ }
  return "about:blank";
}

export function formatBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// Announces a state change to screen readers (never counters).
export function announce(text) {
  fill(document.getElementById("announce"), text);
}

// Shows an API error (its message verbatim, with its code) until dismissed.
export function showError(error) {
  const text = error && error.code ? `${error.message} (${error.code})` : String(error && error.message || error);
  fill(document.getElementById("alert-text"), text);
  document.getElementById("alert").hidden = false;
}
