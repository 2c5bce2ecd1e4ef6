"""Models of Novita's account namespace: the balance (``GET /openapi/v1/billing/balance/detail``)."""

from __future__ import annotations

from novictl.novita.fields import LenientInt
from novictl.novita.model_base import NovitaModel

__all__ = ["BALANCE_UNITS_PER_USD", "Balance"]

BALANCE_UNITS_PER_USD = 10_000
"""Billing amounts are in 1/10000 USD (a third unit: product prices are in 1/100000 USD)."""


def _usd(units: int | None) -> float | None:
    return None if units is None else units / BALANCE_UNITS_PER_USD


class Balance(NovitaModel):
    """The account's money, in Novita's raw units (1/10000 USD); the ``*_usd`` properties convert."""

    available_balance: LenientInt = None
    cash_balance: LenientInt = None
    credit_limit: LenientInt = None
    outstanding_invoices: LenientInt = None

    @property
    def available_usd(self) -> float | None:
        return _usd(self.available_balance)

    @property
    def cash_usd(self) -> float | None:
        return _usd(self.cash_balance)

    @property
    def credit_limit_usd(self) -> float | None:
        return _usd(self.credit_limit)

    @property
    def outstanding_usd(self) -> float | None:
        return _usd(self.outstanding_invoices)
