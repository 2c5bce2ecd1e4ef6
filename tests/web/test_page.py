"""The web page in a real headless Chromium, against a daemon process and the emulator.

One browser and one daemon serve the whole module; each test seeds its own running instances, so the
tests do not depend on their order.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import expect

from novictl.emulator import EmulatorServer
from tests.fixtures.daemon import DaemonProcess, seed_running
from tests.fixtures.web import save_screenshot

EVERY_STATUS = (
    "toCreate", "creating", "pulling", "running", "toStart", "starting", "toStop", "stopping", "exited",
    "toRestart", "restarting", "toRemove", "removing", "removed", "toReset", "resetting", "migrating",
    "freezing", "pending", "terminated", "unknown",
)  # fmt: skip


# Adopted instances count as active for a full threshold from first sight: here that is 6 ms, so the
# auto-stop panels have idle instances to show (the daemon runs --dry-run; only the trigger test stops).
WEB_DAEMON_ENV = {
    "NOVICTL_AUTOSTOP__IDLE_MINUTES": "0.0001",
    "NOVICTL_AUTOSTOP__STARTUP_GRACE_MINUTES": "0",
    "NOVICTL_AUTOSTOP__WARN_BEFORE_MINUTES": "0",
}


def row_of(page, instance_id: str):
    return page.locator(f'#instance-rows tr[data-id="{instance_id}"]')


def test_the_page_loads_clean_lists_the_instances_and_sends_a_strict_csp(
    open_page, seed_and_sync, web_daemon: DaemonProcess
) -> None:
    ids = seed_and_sync(3)
    web = open_page()
    page = web.page
    for instance_id in ids:
        expect(row_of(page, instance_id).locator(".badge")).to_have_text("running")
    listed = httpx.get(f"{web_daemon.url}/api/instances", timeout=5).json()
    expect(page.locator("#instance-rows tr")).to_have_count(listed["total"])
    expect(page.locator("#card-total")).to_have_text(str(listed["total"]))
    running = [i for i in listed["instances"] if i["status"] == "running"]
    expect(page.locator("#card-running")).to_have_text(str(len(running)))
    burn = sum(i["pricePerHour"] or 0 for i in running)
    expect(page.locator("#card-burn")).to_have_text(f"${burn:.2f}/h")
    expect(page.locator("#card-store")).to_have_text("ok")
    expect(page.locator("#loading")).to_be_hidden()
    assert web.problems() == []

    # Keyboard first: the toolbar is the first thing Tab reaches, and every button has a name.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "refresh-button"
    unnamed = page.evaluate(
        """[...document.querySelectorAll('button')]
            .filter((b) => !(b.getAttribute('aria-label') || b.textContent).trim()).length"""
    )
    assert unnamed == 0

    # The CSP detector works: an inline script is blocked, and reported as a problem.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__ran") is None
    assert any("script-src" in problem for problem in web.problems())

    answer = httpx.get(web_daemon.url + "/", timeout=5)
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["content-type"].startswith("text/html")
    # The page itself carries nothing the CSP would block.
    assert not re.search(r"<script>|<style|\son[a-z]+=|style=", answer.text)
    for asset in ("app.js", "api.js", "format.js", "rows.js", "style.css", "favicon.svg"):
        assert httpx.get(f"{web_daemon.url}/web/{asset}", timeout=5).status_code == 200


def test_every_novita_status_has_a_coloured_badge(open_page, seed_and_sync) -> None:
    seed_and_sync(1)
    page = open_page().page
    page.get_by_text("Status colours").click()
    colours = {}
    for status in EVERY_STATUS:
        badge = page.locator(f'#legend-badges .badge[data-status="{status}"]')
        expect(badge).to_have_text(status)
        colours[status] = badge.evaluate("(b) => getComputedStyle(b).backgroundColor")
    assert all(c not in ("rgba(0, 0, 0, 0)", "transparent", "rgb(255, 255, 255)") for c in colours.values())
    assert colours["running"] != colours["exited"] != colours["stopping"] != colours["starting"]
    assert colours["removed"] != colours["running"]
    assert colours["pending"] != colours["running"]


def test_stop_on_a_row_stops_that_instance_and_its_badge_changes(
    open_page, seed_and_sync, web_emulator: EmulatorServer
) -> None:
    target, bystander = seed_and_sync(2)
    page = open_page().page
    row = row_of(page, target)
    expect(row.locator(".badge")).to_have_text("running")
    row.get_by_role("button", name=re.compile("^Stop ")).click()
    expect(page.locator("#notice")).to_contain_text("Stop requested for")
    expect(row.locator(".badge")).not_to_have_text("running")
    assert web_emulator.state.instance_calls[target]["stop"] == 1
    assert web_emulator.state.instance_calls[bystander]["stop"] == 0
    expect(row_of(page, bystander).locator(".badge")).to_have_text("running")
    expect(row.get_by_role("button", name=re.compile("^Stop "))).to_be_disabled()
    # The daemon follows the stop to its end: no sync, no reload, the row settles and can be started again.
    expect(row.locator(".badge")).to_have_text("exited")
    expect(row.get_by_role("button", name=re.compile("^Start "))).to_be_enabled()

    # Its events read like sentences, not raw data.
    row.locator(".name-button").click()
    events = page.locator("#events-list")
    expect(events).to_contain_text("stopped by user")
    expect(events).to_contain_text("found on Novita")
    text = events.inner_text()
    assert "{" not in text
    assert not re.search(r"\d{4}-\d\d-\d\dT", text)  # no ISO stamps
    assert not re.search(r"\d+\.\d{3,}", text)  # no raw float seconds
    save_screenshot(page, "web-events-after-stop", full_page=True)


def test_start_on_a_row_ends_running_and_counts_in_the_cards(
    open_page, seed_and_sync, web_emulator: EmulatorServer, web_daemon: DaemonProcess
) -> None:
    (target,) = seed_running(web_emulator, 1)
    web_emulator.state.set_status(target, "exited")
    seed_and_sync(0)
    page = open_page().page
    row = row_of(page, target)
    expect(row.locator(".badge")).to_have_text("exited")
    running_before = int(page.locator("#card-running").inner_text())
    row.get_by_role("button", name=re.compile("^Start ")).click()
    expect(page.locator("#notice")).to_contain_text("Start requested for")
    expect(row.locator(".badge")).to_have_text("running")
    assert web_emulator.state.instance_calls[target]["start"] == 1
    expect(page.locator("#card-running")).to_have_text(str(running_before + 1))
    expect(row.get_by_role("button", name=re.compile("^Stop "))).to_be_enabled()
    ready = httpx.get(
        f"{web_daemon.url}/api/events", params={"instanceId": target, "type": "instance.ready"}, timeout=5
    ).json()
    assert ready["total"] == 1  # emitted by the daemon's follow-up, not by a sync


def test_pin_shows_pinned_until_and_unpin_removes_it(open_page, seed_and_sync) -> None:
    (instance_id,) = seed_and_sync(1)
    page = open_page().page
    row = row_of(page, instance_id)
    autostop = row.locator(".col-autostop")
    expect(autostop).not_to_contain_text("pinned")
    row.get_by_role("button", name=re.compile("^Pin 1h ")).click()
    expect(autostop).to_contain_text("pinned until")
    expect(page.locator("#notice")).to_contain_text("pinned until")
    row.get_by_role("button", name=re.compile("^Unpin ")).click()
    expect(autostop).not_to_contain_text("pinned")
    expect(row.get_by_role("button", name=re.compile("^Unpin "))).to_be_disabled()

    # The events of the selected instance show both changes.
    row.locator(".name-button").click()
    events = page.locator("#events-list li")
    expect(page.locator("#events-heading")).to_contain_text(row.locator(".name").inner_text())
    expect(events.filter(has_text="instance.pinned")).to_have_count(1)
    expect(events.filter(has_text="instance.unpinned")).to_have_count(1)


def test_dry_run_shows_who_would_be_stopped_and_why_and_stops_nothing(
    open_page, seed_and_sync, web_emulator: EmulatorServer
) -> None:
    ids = seed_and_sync(2)
    page = open_page().page
    page.get_by_role("button", name="Dry-run auto-stop").click()
    report = page.locator("#report-panel")
    expect(report).to_be_visible()
    expect(page.locator("#report-summary")).to_contain_text("would stop")
    for instance_id in ids:
        name = page.locator(f'#instance-rows tr[data-id="{instance_id}"] .name').inner_text()
        entry = report.locator("#report-rows tr", has_text=name)
        expect(entry).to_contain_text("would stop")
        expect(entry.locator("td[data-label=Why]")).to_contain_text("idle")
    assert all(web_emulator.state.instance_calls[i]["stop"] == 0 for i in ids)


def test_the_last_auto_stop_card_shows_the_last_real_run_not_a_dry_run(
    open_page, seed_and_sync, web_daemon: DaemonProcess
) -> None:
    seed_and_sync(1)
    real = httpx.post(f"{web_daemon.url}/api/instances/auto-stop/trigger", json={"dryRun": False}, timeout=15)
    assert real.status_code == 200, real.text
    stopped = real.json()["totals"]["stopped"]
    assert stopped >= 1
    page = open_page().page
    card = page.locator("#card-autostop")
    expect(card).to_contain_text(f"{stopped} stopped")
    expect(page.locator("#card-savings")).to_have_text(re.compile(r"^\$\d+\.\d\d$"))

    seed_and_sync(1)
    page.get_by_role("button", name="Dry-run auto-stop").click()
    expect(page.locator("#report-summary")).to_contain_text("would stop")
    page.get_by_role("button", name="Refresh").click()
    expect(card).to_contain_text(f"{stopped} stopped")  # a preview is not a run
    expect(card).not_to_contain_text("dry run")


def test_sync_shows_the_real_counts(open_page, seed_and_sync, web_daemon: DaemonProcess) -> None:
    seed_and_sync(1)
    page = open_page().page
    page.get_by_role("button", name="Sync").click()
    notice = page.locator("#notice")
    expect(notice).to_contain_text("Sync done")
    text = notice.inner_text()
    assert "undefined" not in text
    assert "NaN" not in text
    seen = int(re.search(r"(\d+) seen", text).group(1))  # type: ignore[union-attr]
    listed = httpx.get(f"{web_daemon.url}/api/instances", timeout=5).json()["total"]
    assert seen == listed > 0


def test_stop_all_asks_naming_count_and_burn_then_stops_exactly_what_it_named(
    open_page, seed_and_sync, web_emulator: EmulatorServer, web_daemon: DaemonProcess
) -> None:
    seed_and_sync(2)
    preview = httpx.post(f"{web_daemon.url}/api/instances/stop-all", json={"dryRun": True}, timeout=15).json()
    named = [r["instanceId"] for r in preview["results"]]
    assert len(named) >= 2
    page = open_page().page

    page.get_by_role("button", name="Stop all").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"{len(named)} running instance")
    expect(dialog).to_contain_text(f"${preview['usdPerHour']:.2f}/h")
    expect(dialog).to_contain_text(preview["results"][0]["name"])
    save_screenshot(page, "web-stop-all-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert all(web_emulator.state.instance_calls[i]["stop"] == 0 for i in named)

    page.get_by_role("button", name="Stop all").click()
    expect(dialog).to_be_visible()
    # Started while the dialog is open: the confirmation does not stop what it did not name.
    (latecomer,) = seed_running(web_emulator, 1)
    dialog.get_by_role("button", name=f"Stop {len(named)}").click()
    expect(page.locator("#notice")).to_contain_text(f"Stop all: {len(named)} instance")
    for instance_id in named:
        assert web_emulator.state.instance_calls[instance_id]["stop"] == 1
        expect(row_of(page, instance_id).locator(".badge")).to_have_text("exited")
    assert web_emulator.state.instance_calls[latecomer]["stop"] == 0
    assert (web_emulator.state.instance(latecomer) or {}).get("status") == "running"


def test_auto_refresh_keeps_scroll_selection_and_an_open_dialog(
    open_page, seed_and_sync, web_emulator: EmulatorServer
) -> None:
    ids = seed_and_sync(12)
    web = open_page("/?refresh=0.5", width=1280, height=500)
    page = web.page
    last = row_of(page, ids[-1])
    last.locator(".name-button").click()
    expect(last).to_have_class(re.compile("selected"))
    page.get_by_role("button", name="Stop all").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.evaluate("window.scrollTo(0, 300)")
    assert page.evaluate("window.scrollY") == 300

    # Behind the page's back: Novita reports one instance stopped; the next refresh after a sync shows it.
    web_emulator.state.set_status(ids[0], "exited")
    httpx.post(web.url.split("/?")[0] + "/api/instances/sync", json={}, timeout=15)
    expect(row_of(page, ids[0]).locator(".badge")).to_have_text("exited", timeout=5000)

    expect(page.locator("#confirm-dialog")).to_be_visible()
    expect(last).to_have_class(re.compile("selected"))
    # Kept, not reset: Chromium's scroll anchoring may move it a few pixels when a card's text above the
    # rows wraps differently ("1m ago" …), which keeps the rows in view exactly where they were.
    assert abs(page.evaluate("window.scrollY") - 300) < 40
    page.locator("#confirm-cancel").click()
    assert web.problems() == []


def test_screenshots_at_desktop_and_phone_width(open_page, seed_and_sync) -> None:
    seed_and_sync(2)
    desktop = open_page(width=1280, height=800)
    expect(desktop.page.locator("#instance-rows tr").first).to_be_visible()
    assert save_screenshot(desktop.page, "web-desktop-1280x800").stat().st_size > 10_000
    desktop.page.get_by_role("button", name="Dry-run auto-stop").click()
    expect(desktop.page.locator("#report-panel")).to_be_visible()
    save_screenshot(desktop.page, "web-desktop-dry-run")

    phone = open_page(width=390, height=844)
    page = phone.page
    first = page.locator("#instance-rows tr").first
    expect(first).to_be_visible()
    assert save_screenshot(page, "web-phone-390x844").stat().st_size > 10_000
    # A card per instance: nothing wider than the screen, every action reachable.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    pin = first.get_by_role("button", name=re.compile("^Pin 1h "))
    pin.scroll_into_view_if_needed()
    box = pin.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390
    assert desktop.problems() == []
    assert phone.problems() == []


def test_empty_and_error_states(open_page, seed_and_sync) -> None:
    seed_and_sync(1)
    web = open_page()
    page = web.page
    # Edge cases the emulator cannot produce on demand: the daemon's answer is replaced in the browser.
    page.route("**/api/instances", lambda route: route.fulfill(json={"instances": [], "total": 0}))
    page.reload()
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty")).to_contain_text("No instances yet")
    expect(page.locator("#table-wrap")).to_be_hidden()
    expect(page.locator("#loading")).to_be_hidden()
    expect(page.locator("#card-total")).to_have_text("0")

    page.unroute("**/api/instances")
    failure = {"error": {"code": "store_unavailable", "message": "the state store is not answering"}}
    page.route("**/api/instances", lambda route: route.fulfill(status=503, json=failure))
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#error")).to_contain_text("Could not load the instances")
    expect(page.locator("#error")).to_contain_text("the state store is not answering")
    expect(page.locator("#updated")).to_contain_text("Failed")

    page.unroute("**/api/instances")
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#instance-rows tr").first).to_be_visible()
    assert web.problems(ignore=("status of 503",)) == []


def test_the_balance_card_and_a_stopped_instances_data_kept_until(
    open_page, seed_and_sync, web_emulator: EmulatorServer, web_daemon: DaemonProcess
) -> None:
    billing = web_emulator.app.state.billing
    billing.set_balance(availableBalance="1234567")  # $123.4567
    stopped, running = seed_and_sync(2)
    answer = httpx.post(f"{web_daemon.url}/api/instances/{stopped}/stop", timeout=15)
    assert answer.status_code == 202, answer.text
    try:
        web = open_page()
        page = web.page
        card = page.locator("#card-balance")
        expect(card).to_have_text("$123.46")

        # The daemon follows the stop; once exited, the row says until when Novita keeps the data.
        row = row_of(page, stopped)
        expect(row.locator(".badge")).to_have_text("exited")
        until = httpx.get(f"{web_daemon.url}/api/instances/{stopped}", timeout=5).json()["dataKeptUntil"]
        assert until
        zone = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
        day = datetime.fromisoformat(until).astimezone(ZoneInfo(zone))
        kept = row.locator(".kept-until")
        expect(kept).to_have_text(f"data kept until {day.day} {day:%b} {day.year}")
        expect(kept).to_be_visible()
        expect(row_of(page, running).locator(".kept-until")).to_be_hidden()
        expect(row_of(page, running).locator(".badge")).to_have_text("running")
        save_screenshot(page, "web-balance-and-data-kept")
        phone = open_page(width=390, height=844).page
        expect(row_of(phone, stopped).locator(".kept-until")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        save_screenshot(phone, "web-phone-data-kept", full_page=True)

        billing.set_balance(availableBalance="31200")
        page.get_by_role("button", name="Refresh").click()
        expect(card).to_have_text("$3.12 (low)")
        expect(card).to_have_class(re.compile(r"\bbad\b"))

        # Novita failing the balance (every retry): the card says so, the rest of the page carries on.
        web_emulator.state.script_fault("status", status=503, count=2, path="/billing/balance/detail")
        page.get_by_role("button", name="Refresh").click()
        expect(card).to_have_text("unavailable")
        expect(row.locator(".badge")).to_have_text("exited")
        expect(kept).to_contain_text("data kept until")
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#card-total")).to_have_text(re.compile(r"^\d+$"))
        assert web.problems(ignore=("status of 503",)) == []
    finally:
        web_emulator.state.clear_script()
        billing.reset()


def test_running_instances_show_their_last_hour_of_gpu_use(
    open_page, seed_and_sync, web_emulator: EmulatorServer
) -> None:
    import time

    (instance_id,) = seed_and_sync(1)
    web_emulator.app.state.metrics.set_utilization(instance_id, gpu=75, at=time.time() - 1800)
    page = open_page().page
    cell = page.locator(f'#instance-rows tr[data-id="{instance_id}"] .col-gpuuse')
    expect(cell.locator("svg.sparkline polyline")).to_have_count(1)
    expect(cell.locator(".gpu-percent")).to_have_text("75%")
    points = cell.locator("svg.sparkline polyline").get_attribute("points") or ""
    assert len(points.split()) >= 60  # a sample every 30 s over the last hour, a minute behind
