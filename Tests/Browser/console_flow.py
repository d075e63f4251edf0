#!/usr/bin/python3
"""Drives rviewer's web console in a real headless Chromium (Debian's chromium and
chromium-driver, Python selenium), end to end against a running daemon and a real sshd
with the real Runicorn: connect through the form, environments, start the viewer,
follow its link to the Runicorn page through the tunnel, watch status change live,
the log, a forward added and removed, stop; hostile server text shown as text; no
console errors; no request off loopback; a page from another local port cannot drive
the API. Run by IntegrationTests (ConsoleBrowserTests.swift), which passes:
  RV_API (http://127.0.0.1:PORT), RV_SSH_PORT, RV_USER, RV_KEY, RV_SHOTS (screenshot
  folder), RV_HOSTILE (an alias in the daemon's ~/.ssh/config), RV_HOME (the login
  user's home on the "server", where the viewer's log lives).
Every check is an assert; any failure exits non-zero with the step that failed."""
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

API = os.environ["RV_API"]
SHOTS = os.environ["RV_SHOTS"]
HOSTILE = os.environ["RV_HOSTILE"]
os.makedirs(SHOTS, exist_ok=True)
step_no = 0


def step(name):
    global step_no
    step_no += 1
    print(f"STEP {step_no:02d} {name}", flush=True)


def shot(driver, name):
    driver.save_screenshot(os.path.join(SHOTS, f"{step_no:02d}-{name}.png"))


def api(method, path, body=None):
    req = urllib.request.Request(API + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def severe(entries):
    return [e for e in entries if e.get("level") == "SEVERE"]


def main():
    options = webdriver.ChromeOptions()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                "--disable-background-networking", "--no-first-run", "--disable-component-update",
                "--disable-default-apps", "--disable-sync"]:
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 60, poll_frequency=0.1)
    try:
        run(driver, wait)
    finally:
        driver.quit()


def run(driver, wait):
    step("empty daemon: the console loads and its event stream goes live")
    driver.get(API + "/")
    wait.until(lambda d: d.find_element(By.ID, "stream-state").text == "Live")
    assert driver.find_element(By.ID, "no-connections").is_displayed()
    assert driver.find_element(By.ID, "alert").is_displayed() is False
    shot(driver, "empty")

    step("hostile alias from ~/.ssh/config is a button with that text, and runs nothing")
    buttons = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#hosts button"))
    texts = [b.text for b in buttons]
    assert HOSTILE in texts, texts
    assert driver.execute_script("return window.__pwned === undefined"), "a hostile name ran code"
    assert driver.find_elements(By.CSS_SELECTOR, "#hosts img") == [], "a hostile name became HTML"

    step("connect through the form (key login)")
    form = driver.find_element(By.ID, "connect-form")
    form.find_element(By.NAME, "host").send_keys("127.0.0.1")
    form.find_element(By.NAME, "username").send_keys(os.environ["RV_USER"])
    form.find_element(By.NAME, "port").send_keys(os.environ["RV_SSH_PORT"])
    Select(form.find_element(By.NAME, "auth_method")).select_by_value("key")
    assert form.find_element(By.NAME, "private_key_path").is_displayed()
    assert not form.find_element(By.NAME, "password").is_displayed()
    form.find_element(By.NAME, "private_key_path").send_keys(os.environ["RV_KEY"])
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    card = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "article.conn"))
    connection_id = card.get_attribute("data-connection")
    assert connection_id.startswith("conn_"), connection_id
    wait.until(lambda d: card.find_element(By.CSS_SELECTOR, ".conn-head .status").text == "connected")
    wait.until(lambda d: "Latency" in card.find_element(By.CSS_SELECTOR, ".facts").text)
    assert not driver.find_element(By.ID, "no-connections").is_displayed()
    code, listed = api("GET", "/api/remote/connections")
    assert [c["connection_id"] for c in listed["connections"]] == [connection_id], listed

    step("environments: the Runicorn one is listed with its version")
    wait.until(lambda d: any(td.text == "runi" for td in card.find_elements(By.CSS_SELECTOR, "table td")))
    shot(driver, "connected")

    step("start the viewer; its status turns running without a reload")
    select = Select(card.find_element(By.NAME, "env_name"))
    select.select_by_value("runi")
    driver.execute_script("window.__noReload = true")
    card.find_element(By.XPATH, ".//button[text()='Start viewer']").click()
    viewer_status = card.find_element(By.CSS_SELECTOR, ".box h4 .status")
    wait.until(lambda d: viewer_status.text == "running")
    assert driver.execute_script("return window.__noReload === true"), "the page reloaded"
    link = wait.until(lambda d: card.find_element(By.CSS_SELECTOR, "a.open"))
    href = link.get_attribute("href")
    assert href.startswith("http://localhost:"), href
    shot(driver, "running")
    card.screenshot(os.path.join(SHOTS, f"{step_no:02d}-running-card.png"))

    step("follow the link: the Runicorn page loads through the tunnel")
    console = driver.current_window_handle
    link.click()
    wait.until(lambda d: len(d.window_handles) == 2)
    driver.switch_to.window([w for w in driver.window_handles if w != console][0])
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert driver.current_url.startswith(href), driver.current_url
    wait.until(lambda d: d.title.strip() != "")
    title = driver.title
    assert "runicorn" in (title + driver.page_source[:5000]).lower(), title
    shot(driver, "runicorn")
    driver.close()
    driver.switch_to.window(console)

    step("the log panel shows the viewer's log, server text as text")
    log_dir = os.path.join(os.environ["RV_HOME"], ".cache", "rviewer")
    viewer_dir = os.path.join(log_dir, sorted(os.listdir(log_dir))[-1])
    with open(os.path.join(viewer_dir, "viewer.log"), "a") as f:
        f.write(HOSTILE + "\n")
    card.find_element(By.XPATH, ".//button[text()='Show log']").click()
    log = card.find_element(By.CSS_SELECTOR, "pre.log")
    wait.until(lambda d: HOSTILE in log.text)
    assert log.find_elements(By.CSS_SELECTOR, "img") == [], "a log line became HTML"
    assert driver.execute_script("return window.__pwned === undefined"), "a log line ran code"
    shot(driver, "log")

    step("a forward: added, listed with its counters, removed")
    fwd = card.find_elements(By.CSS_SELECTOR, "section.box")[-1]
    fwd.find_element(By.NAME, "remote_port").send_keys(os.environ["RV_SSH_PORT"])
    fwd.find_element(By.XPATH, ".//button[text()='Add forward']").click()
    row = wait.until(lambda d: fwd.find_element(By.CSS_SELECTOR, "tr[data-forward]"))
    forward_id = row.get_attribute("data-forward")
    assert f"127.0.0.1:{os.environ['RV_SSH_PORT']}" in row.text, row.text
    code, forwards = api("GET", "/api/remote/forwards")
    assert [f["forward_id"] for f in forwards["forwards"]] == [forward_id], forwards
    row.find_element(By.XPATH, ".//button[text()='Remove']").click()
    wait.until(lambda d: fwd.find_elements(By.CSS_SELECTOR, "tr[data-forward]") == [])
    code, forwards = api("GET", "/api/remote/forwards")
    assert forwards["total"] == 0, forwards

    step("keyboard: every control of the card is reachable with Tab")
    body = driver.find_element(By.TAG_NAME, "body")
    body.click()
    seen = set()
    for _ in range(80):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        seen.add(driver.execute_script("const e = document.activeElement; return e.tagName + ':' + (e.textContent || e.name || '').trim().slice(0, 30)"))
    for wanted in ["BUTTON:Connect", "BUTTON:Ping", "BUTTON:Disconnect", "BUTTON:Stop viewer", "BUTTON:Hide log"]:
        assert wanted in seen, (wanted, sorted(seen))

    step("no console errors, no request off loopback")
    errors = severe(driver.get_log("browser"))
    assert errors == [], errors
    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = urllib.parse.urlsplit(message["params"]["request"]["url"])
            if url.scheme in ("http", "https", "ws", "wss"):
                hosts.add(url.hostname)
    assert hosts and hosts <= {"127.0.0.1", "localhost", "::1"}, hosts

    step("a page from another local port cannot drive the API")
    evil_port = serve_evil_page(API, connection_id)
    driver.get(f"http://127.0.0.1:{evil_port}/evil.html")
    wait.until(lambda d: d.execute_script("return window.__done === true"))
    outcome = driver.execute_script("return window.__outcome")
    assert all(o.startswith("blocked") for o in outcome), outcome
    code, status = api("GET", f"/api/remote/viewer/status?connection_id={connection_id}")
    assert status["viewer"]["status"] == "running", status
    code, listed = api("GET", "/api/remote/connections")
    assert listed["total"] == 1, listed
    driver.get_log("browser")   # the blocked requests' errors belong to that page

    step("stop the viewer from the console; its status turns stopped live")
    driver.get(API + "/")
    wait.until(lambda d: d.find_element(By.ID, "stream-state").text == "Live")
    card = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f"article[data-connection='{connection_id}']"))
    viewer_status = card.find_element(By.CSS_SELECTOR, ".box h4 .status")
    wait.until(lambda d: viewer_status.text == "running")
    card.find_element(By.XPATH, ".//button[text()='Stop viewer']").click()
    wait.until(lambda d: viewer_status.text == "stopped")
    shot(driver, "stopped")

    step("dark mode: the system's preference gives dark colours, text still readable")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    colours = driver.execute_script("""
        const rgb = (c) => c.match(/\\d+/g).slice(0, 3).map(Number);
        const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                                     return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
        const body = getComputedStyle(document.body);
        const bg = lum(rgb(body.backgroundColor)), fg = lum(rgb(body.color));
        return [bg, fg, (Math.max(bg, fg) + 0.05) / (Math.min(bg, fg) + 0.05)];""")
    assert colours[0] < 0.05, f"a dark background: {colours}"
    assert colours[2] >= 7, f"text contrast of at least 7:1: {colours}"
    shot(driver, "dark")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "light"}]})

    step("narrow window: still usable")
    driver.set_window_size(390, 900)
    assert driver.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth"), "horizontal scroll at 390 px"
    shot(driver, "narrow")
    driver.set_window_size(1280, 1000)

    step("disconnect from the console; the card goes live")
    card.find_element(By.XPATH, ".//button[text()='Disconnect']").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "article.conn") == [])
    assert driver.find_element(By.ID, "no-connections").is_displayed()
    errors = severe(driver.get_log("browser"))
    assert errors == [], errors
    print("CONSOLE FLOW OK", flush=True)


def serve_evil_page(api, connection_id):
    """A page on another local port that tries to drive the API (stop the viewer,
    delete the connection) with what a browser lets any page send."""
    page = f"""<!doctype html><script>
    const api = {json.dumps(api)};
    window.__outcome = [];
    async function attempt(name, init, path) {{
      try {{
        const r = await fetch(api + path, init);
        window.__outcome.push((r.type === "opaque" ? "blocked(opaque)" : "answered " + r.status) + " " + name);
      }} catch (e) {{ window.__outcome.push("blocked " + name); }}
    }}
    (async () => {{
      const id = {json.dumps(connection_id)};
      const body = JSON.stringify({{connection_id: id}});
      await attempt("simple POST", {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}}, body}}, "/api/remote/viewer/stop");
      await attempt("JSON POST", {{method: "POST", headers: {{"Content-Type": "application/json"}}, body}}, "/api/remote/viewer/stop");
      await attempt("GET", {{}}, "/api/remote/connections");
      await attempt("DELETE", {{method: "DELETE"}}, "/api/remote/connections/" + id);
      window.__done = true;
    }})();
    </script>"""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            data = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = socketserver.TCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


if __name__ == "__main__":
    main()
