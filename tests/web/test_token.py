"""The web page against a daemon that has an API token: it asks for it, refuses a wrong one, keeps the
right one for the tab (session storage) and sends it as a Bearer header."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.fixtures.daemon import DaemonProcess

TOKEN = "web-test-token-5f2a"
WEB_DAEMON_ENV = {"NOVICTL_DAEMON__API_TOKEN": TOKEN}

# Chromium logs every 401 answer as a console error; those are the point of this module.
EXPECTED_401 = ("status of 401",)


def test_the_page_asks_for_the_token_refuses_a_wrong_one_and_loads_with_the_right_one(
    open_page, seed_and_sync, web_daemon: DaemonProcess
) -> None:
    (instance_id,) = seed_and_sync(1, token=TOKEN)
    assert httpx.get(f"{web_daemon.url}/api/instances", timeout=5).status_code == 401

    web = open_page()
    page = web.page
    panel = page.locator("#token-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#instance-rows tr")).to_have_count(0)
    field = page.get_by_role("textbox", name="API token")
    expect(field).to_be_focused()
    # Nothing to act on until the daemon lets the page in.
    for label in ("Sync", "Dry-run auto-stop", "Stop all"):
        expect(page.get_by_role("button", name=label)).to_be_disabled()
    # A password field gets a (hidden) username beside it, so Chromium does not warn about the form.
    expect(page.locator('#token-form input[autocomplete="username"]')).to_have_count(1)

    field.fill("not-the-token")
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("#token-error")).to_contain_text("refused")
    expect(panel).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('novictl.apiToken')") is None

    field.fill(TOKEN)
    field.press("Enter")
    expect(panel).to_be_hidden()
    expect(page.locator(f'#instance-rows tr[data-id="{instance_id}"] .badge')).to_have_text("running")
    assert page.evaluate("sessionStorage.getItem('novictl.apiToken')") == TOKEN
    for label in ("Sync", "Dry-run auto-stop", "Stop all"):
        expect(page.get_by_role("button", name=label)).to_be_enabled()

    # A reload in the same tab keeps the token; the CSP holds on a token-protected daemon too.
    page.reload()
    expect(page.locator(f'#instance-rows tr[data-id="{instance_id}"]')).to_be_visible()
    expect(panel).to_be_hidden()
    assert "content-security-policy" in httpx.get(web_daemon.url + "/", timeout=5).headers
    assert web.problems(ignore=EXPECTED_401) == []


def test_the_token_form_draws_no_browser_warning(open_page) -> None:
    web = open_page()
    page = web.page
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.reload()
    expect(page.locator("#token-panel")).to_be_visible()
    page.get_by_role("textbox", name="API token").fill("x")
    page.wait_for_timeout(200)  # Chromium's form checks run after layout
    assert not [m for m in messages if "username" in m.lower() or "password" in m.lower()]
