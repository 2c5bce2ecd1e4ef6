"""The account balance: what ``novictl balance`` prints and ``GET /api/balance`` answers, in USD."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from novictl.novita.account import Balance
    from novictl.novita.client import NovitaClient

__all__ = ["LOW_BALANCE_USD", "BalanceReport", "read_balance"]

LOW_BALANCE_USD = 5.0
"""Below this available balance (USD) the report says ``low``: new instances may soon fail to start."""


@dataclass(frozen=True)
class BalanceReport:
    """The account's money in USD (``None`` where Novita did not say).

    ``low`` is true when the available balance is known and under :data:`LOW_BALANCE_USD`.
    """

    available_usd: float | None
    cash_usd: float | None
    credit_limit_usd: float | None
    outstanding_invoices_usd: float | None

    @classmethod
    def from_balance(cls, balance: Balance) -> BalanceReport:
        return cls(
            available_usd=balance.available_usd,
            cash_usd=balance.cash_usd,
            credit_limit_usd=balance.credit_limit_usd,
            outstanding_invoices_usd=balance.outstanding_usd,
        )

    @property
    def low(self) -> bool:
        return self.available_usd is not None and self.available_usd < LOW_BALANCE_USD

    def to_dict(self) -> dict[str, Any]:
        """The JSON both faces print: ``balance --json`` and ``GET /api/balance``."""
        return {
            "availableUsd": self.available_usd,
            "cashUsd": self.cash_usd,
            "creditLimitUsd": self.credit_limit_usd,
            "outstandingInvoicesUsd": self.outstanding_invoices_usd,
            "currency": "USD",
            "low": self.low,
        }


async def read_balance(client: NovitaClient) -> BalanceReport:
    """Ask Novita for the balance (one call, retried by the client); Novita's errors propagate."""
    return BalanceReport.from_balance(await client.get_balance())
