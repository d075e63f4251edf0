#!/usr/bin/python3
"""The console's login dialogs in a real headless Chromium: a second factor asked by the
server (the prompt shown as the server wrote it, a hidden input, the code sent, the
connection made) or a host key to decide on (the fingerprint shown, Cancel first and
nothing connected, then Trust and connected). Run by IntegrationTests, which passes:
  RV_API, RV_SSH_PORT, RV_USER, RV_SHOTS, RV_MODE ("second-factor" or "host-key"),
  and RV_PASSWORD + RV_CODE_CMD (a command printing the current code) for the first,
  RV_KEY + RV_FINGERPRINT (the server's SHA256:... key) for the second.
Every check is an assert; any failure exits non-zero."""
import os
import subprocess

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

API = os.environ["RV_API"]
SHOTS = os.environ["RV_SHOTS"]
MODE = os.environ["RV_MODE"]
os.makedirs(SHOTS, exist_ok=True)


def main():
    options = webdriver.ChromeOptions()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000", "--no-first-run"]:
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 60, poll_frequency=0.1)
    try:
        driver.get(API + "/")
        wait.until(lambda d: d.find_element(By.ID, "stream-state").text == "Live")
        form = driver.find_element(By.ID, "connect-form")
        form.find_element(By.NAME, "host").send_keys("127.0.0.1")
        form.find_element(By.NAME, "username").send_keys(os.environ["RV_USER"])
        form.find_element(By.NAME, "port").send_keys(os.environ["RV_SSH_PORT"])
        if MODE == "second-factor":
            second_factor(driver, wait, form)
        else:
            host_key(driver, wait, form)
        card = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "article.conn"))
        wait.until(lambda d: card.find_element(By.CSS_SELECTOR, ".conn-head .status").text == "connected")
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE" and "/api/remote/connect" not in e.get("message", "")]
        assert errors == [], errors
        print("LOGIN DIALOG OK", flush=True)
    finally:
        driver.quit()


def second_factor(driver, wait, form):
    Select(form.find_element(By.NAME, "auth_method")).select_by_value("password")
    form.find_element(By.NAME, "password").send_keys(os.environ["RV_PASSWORD"])
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    dialog = driver.find_element(By.ID, "challenge-dialog")
    wait.until(lambda d: dialog.is_displayed())
    label = wait.until(lambda d: dialog.find_element(By.CSS_SELECTOR, "#challenge-prompts label"))
    assert "One-time password" in label.text, label.text
    field = label.find_element(By.TAG_NAME, "input")
    assert field.get_attribute("type") == "password", "a prompt without echo is a hidden input"
    assert field.get_attribute("autocomplete") == "one-time-code"
    assert driver.switch_to.active_element == field, "the first prompt has the focus"
    countdown = int(dialog.find_element(By.ID, "challenge-countdown").text)
    assert 100 <= countdown <= 120, countdown
    driver.save_screenshot(os.path.join(SHOTS, "second-factor.png"))
    code = subprocess.run(os.environ["RV_CODE_CMD"], shell=True, capture_output=True, text=True, check=True).stdout.strip()
    field.send_keys(code)
    field.send_keys(Keys.ENTER)
    wait.until(lambda d: not dialog.is_displayed())
    assert form.find_element(By.NAME, "password").get_attribute("value") == "", "the password field is cleared"


def host_key(driver, wait, form):
    Select(form.find_element(By.NAME, "auth_method")).select_by_value("key")
    form.find_element(By.NAME, "private_key_path").send_keys(os.environ["RV_KEY"])
    submit = form.find_element(By.CSS_SELECTOR, "button[type=submit]")
    submit.click()
    dialog = driver.find_element(By.ID, "hostkey-dialog")
    wait.until(lambda d: dialog.is_displayed())
    presented = dialog.find_element(By.ID, "hostkey-presented").text
    assert os.environ["RV_FINGERPRINT"] in presented, presented
    assert "a new host" in dialog.find_element(By.ID, "hostkey-title").text
    assert driver.switch_to.active_element.get_attribute("id") == "hostkey-cancel", "Cancel has the focus"
    driver.save_screenshot(os.path.join(SHOTS, "host-key.png"))
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait.until(lambda d: not dialog.is_displayed())
    wait.until(lambda d: submit.is_enabled())
    assert driver.find_elements(By.CSS_SELECTOR, "article.conn") == [], "cancelled: nothing connected"
    submit.click()
    wait.until(lambda d: dialog.is_displayed())
    dialog.find_element(By.ID, "hostkey-trust").click()
    wait.until(lambda d: not dialog.is_displayed())


if __name__ == "__main__":
    main()
