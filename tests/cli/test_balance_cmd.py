"""``novictl balance``: the account's money in USD, as a table and as JSON, against the emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

KEYS = ["availableUsd", "cashUsd", "creditLimitUsd", "outstandingInvoicesUsd", "currency", "low"]


def test_balance_json_has_the_usd_amounts(novictl_cli: Any, emulator: Any) -> None:
    result = novictl_cli("balance", "--json")
    assert result.code == 0, result.err
    body = result.json()
    assert list(body) == KEYS
    assert body == {
        "availableUsd": 125.0,
        "cashUsd": 125.0,
        "creditLimitUsd": 0.0,
        "outstandingInvoicesUsd": 0.0,
        "currency": "USD",
        "low": False,
    }
    assert emulator.state.calls == {"GET /billing/balance/detail": 1}

    emulator.app.state.billing.set_balance(availableBalance="42100", creditLimit=2_000_000)
    changed = novictl_cli("--json", "balance").json()  # the global flag too
    assert (changed["availableUsd"], changed["creditLimitUsd"], changed["low"]) == (4.21, 200.0, True)


def test_balance_table_shows_dollars_to_cents(novictl_cli: Any, emulator: Any) -> None:
    result = novictl_cli("balance")
    assert result.code == 0, result.err
    lines = {line.split("  ")[0].strip(): line.split()[-1] for line in result.out.splitlines() if "$" in line}
    assert lines == {
        "available": "$125.00",
        "cash": "$125.00",
        "credit limit": "$0.00",
        "outstanding invoices": "$0.00",
    }

    emulator.app.state.billing.set_balance(availableBalance="31234", outstandingInvoices="123456789")
    low = novictl_cli("balance").out
    assert "$3.12 (low)" in low
    assert "$12,345.68" in low


def test_novita_unavailable_exits_6(novictl_cli: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVICTL_NOVITA__MAX_ATTEMPTS", "1")  # one try: no backoff to wait for
    emulator.state.script_fault("status", status=503, count=2, path="/billing/balance/detail")
    result = novictl_cli("balance", "--json")
    assert result.code == 6
    assert result.json()["error"]["code"] == "novita_unavailable"
    human = novictl_cli("balance")
    assert human.code == 6
    assert human.out == ""
    assert human.err.startswith("error: ")


async def test_the_cli_json_is_the_api_body(novictl_cli: Any, emulator: Any, daemon_harness: Any) -> None:
    emulator.app.state.billing.set_balance(
        availableBalance="987654", cashBalance=900000, creditLimit="0", outstandingInvoices="1500"
    )
    harness = await daemon_harness()
    response = await harness.http.get("/api/balance")
    assert response.status_code == 200, response.text
    # The CLI runs its own event loop: in a thread, beside this test's.
    result = await asyncio.to_thread(novictl_cli, "balance", "--json")
    assert result.code == 0, result.err
    assert result.json() == response.json()
    assert response.json()["availableUsd"] == 98.7654
