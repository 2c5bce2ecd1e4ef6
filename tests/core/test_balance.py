"""``read_balance``: Novita's 1/10000 USD amounts as USD, against the emulator over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from novictl.core.balance import LOW_BALANCE_USD, BalanceReport, read_balance
from novictl.errors import NovitaUnavailable
from novictl.novita import NovitaClient

BALANCE = "/billing/balance/detail"


async def test_the_default_balance_in_usd(novita_client: NovitaClient) -> None:
    report = await read_balance(novita_client)
    assert report == BalanceReport(
        available_usd=125.0, cash_usd=125.0, credit_limit_usd=0.0, outstanding_invoices_usd=0.0
    )
    assert report.to_dict() == {
        "availableUsd": 125.0,
        "cashUsd": 125.0,
        "creditLimitUsd": 0.0,
        "outstandingInvoicesUsd": 0.0,
        "currency": "USD",
        "low": False,
    }


async def test_strings_and_ints_mixed_and_a_low_balance(novita_client: NovitaClient, emulator: Any) -> None:
    emulator.app.state.billing.set_balance(
        availableBalance="32500",
        cashBalance=12345,
        creditLimit="500000",
        outstandingInvoices=-7,
    )
    report = await read_balance(novita_client)
    assert report.available_usd == 3.25
    assert report.cash_usd == 1.2345
    assert report.credit_limit_usd == 50.0
    assert report.outstanding_invoices_usd == -0.0007
    assert report.available_usd < LOW_BALANCE_USD
    assert report.low is True
    assert report.to_dict()["low"] is True

    emulator.app.state.billing.set_balance(availableBalance=int(LOW_BALANCE_USD * 10_000))
    assert (await read_balance(novita_client)).low is False  # exactly $5 is not low


def test_an_unknown_available_balance_is_not_low() -> None:
    report = BalanceReport(None, None, None, None)
    assert report.low is False
    assert report.to_dict()["availableUsd"] is None


async def test_503_after_the_retries_is_novita_unavailable(
    novita_client: NovitaClient, emulator: Any, novita_sleeps: Any
) -> None:
    emulator.state.script_fault("status", status=503, count=5, path=BALANCE)
    with pytest.raises(NovitaUnavailable) as caught:
        await read_balance(novita_client)
    assert caught.value.status == 503
    attempts = emulator.state.calls["GET /billing/balance/detail"]
    assert attempts > 1  # retried first
    assert len(novita_sleeps.calls) == attempts - 1
