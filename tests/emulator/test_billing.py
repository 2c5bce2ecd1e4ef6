"""GET /openapi/v1/billing/balance/detail and the control route that sets it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from novictl.emulator import EmulatorConfig
from novictl.emulator.gateway import OPENAPI_BASE_PATH

BALANCE = "/billing/balance/detail"
DEFAULT = {
    "availableBalance": "1250000",
    "cashBalance": "1250000",
    "creditLimit": "0",
    "outstandingInvoices": "0",
}


@pytest.fixture
def openapi(emulator: Any) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    with httpx.Client(base_url=emulator.url + OPENAPI_BASE_PATH, headers=headers, timeout=5) as client:
        yield client


@pytest.fixture
def ctl(emulator: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url + "/_emulator", timeout=5) as client:
        yield client


def test_the_default_balance_is_the_configured_one_in_strings(openapi: httpx.Client) -> None:
    response = openapi.get(BALANCE)
    assert response.status_code == 200
    assert response.json() == DEFAULT  # $125.00 in 1/10000 USD, every field a string


def test_put_changes_some_fields_and_keeps_the_rest(openapi: httpx.Client, ctl: httpx.Client) -> None:
    changed = ctl.put("/balance", json={"availableBalance": "90000", "outstandingInvoices": 1234})
    assert changed.status_code == 200
    expected = {**DEFAULT, "availableBalance": "90000", "outstandingInvoices": "1234"}
    assert changed.json() == expected
    assert openapi.get(BALANCE).json() == expected
    assert ctl.get("/balance").json() == expected
    assert ctl.put("/balance", json={"cashBalance": "-500"}).json()["cashBalance"] == "-500"

    for bad in (
        {"availableBalance": "12.5"},
        {"creditLimit": "lots"},
        {"balance": "1"},
        {"cashBalance": True},
    ):
        assert ctl.put("/balance", json=bad).status_code == 422, bad
    assert openapi.get(BALANCE).json()["availableBalance"] == "90000"  # refused changes changed nothing


def test_reset_restores_the_balance(emulator: Any, openapi: httpx.Client, ctl: httpx.Client) -> None:
    ctl.put("/balance", json={"availableBalance": "1", "cashBalance": "1"})
    assert ctl.post("/reset").status_code == 200
    assert openapi.get(BALANCE).json() == DEFAULT

    ctl.put("/balance", json={"availableBalance": "1"})
    emulator.state.reset(emulator.state.config.model_copy(update={"balance_units": "5000"}))
    assert openapi.get(BALANCE).json() == {**DEFAULT, "availableBalance": "5000", "cashBalance": "5000"}


def test_balance_calls_are_counted_faulted_and_need_the_key(emulator: Any, openapi: httpx.Client) -> None:
    emulator.state.script_fault("status", status=429, path=BALANCE, retry_after=2)
    limited = openapi.get(BALANCE)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    assert limited.json()["reason"] == "RATE_LIMIT_EXCEEDED"
    assert openapi.get(BALANCE).status_code == 200
    refused = httpx.get(emulator.url + OPENAPI_BASE_PATH + BALANCE)
    assert (refused.status_code, refused.json()["reason"]) == (401, "UNAUTHORIZED")
    assert emulator.state.calls == {"GET /billing/balance/detail": 3}


def test_the_starting_balance_must_be_a_whole_number() -> None:
    assert EmulatorConfig(balance_units="42").balance_units == "42"
    for bad in ("1.5", "", "$5"):
        with pytest.raises(ValidationError):
            EmulatorConfig(balance_units=bad)
