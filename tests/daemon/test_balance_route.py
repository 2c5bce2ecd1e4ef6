"""``GET /api/balance``: the account balance in USD, in-process against the emulator."""

from __future__ import annotations

from novictl.core.balance import read_balance

BALANCE = "/billing/balance/detail"
TOKEN = "balance-token-0123456789"


async def test_balance_is_read_balances_json(daemon_harness, emulator) -> None:
    harness = await daemon_harness()
    response = await harness.http.get("/api/balance")
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"]
    assert response.json() == {
        "availableUsd": 125.0,
        "cashUsd": 125.0,
        "creditLimitUsd": 0.0,
        "outstandingInvoicesUsd": 0.0,
        "currency": "USD",
        "low": False,
    }

    emulator.app.state.billing.set_balance(availableBalance="20000", outstandingInvoices=55_000)
    changed = (await harness.http.get("/api/balance")).json()
    assert changed == (await read_balance(harness.ctx.client)).to_dict()
    assert (changed["availableUsd"], changed["outstandingInvoicesUsd"], changed["low"]) == (2.0, 5.5, True)
    assert emulator.state.calls[f"GET {BALANCE}"] == 3  # asked of Novita every time, never cached


async def test_novita_unavailable_is_503_in_the_error_envelope(daemon_harness, emulator) -> None:
    harness = await daemon_harness({"novita.max_attempts": 1})  # one try: no backoff to wait for
    emulator.state.script_fault("status", status=503, count=1, path=BALANCE)
    response = await harness.http.get("/api/balance")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "novita_unavailable"
    assert error["requestId"] == response.headers["x-request-id"]
    assert (await harness.http.get("/api/balance")).status_code == 200  # the fault was used up


async def test_balance_needs_the_token(daemon_harness, emulator) -> None:
    harness = await daemon_harness({"daemon.api_token": TOKEN})
    missing = await harness.http.get("/api/balance")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert f"GET {BALANCE}" not in emulator.state.calls  # refused before Novita is asked
    allowed = await harness.http.get("/api/balance", headers=harness.auth(TOKEN))
    assert allowed.status_code == 200
    assert allowed.json()["availableUsd"] == 125.0


async def test_the_route_is_in_the_openapi_document(daemon_harness) -> None:
    harness = await daemon_harness()
    paths = (await harness.http.get("/openapi.json")).json()["paths"]
    assert "get" in paths["/api/balance"]
