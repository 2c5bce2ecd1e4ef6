"""The account balance ``GET /billing/balance/detail`` answers, in 1/10000 USD as numeric strings.

It does not move by itself: tests set it (``PUT /_emulator/balance`` or :meth:`BillingBook.set_balance`).
It starts, and returns on every reset, at ``availableBalance = cashBalance = config.balance_units``,
``creditLimit = outstandingInvoices = "0"``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from novictl.emulator.state import EmulatorState

__all__ = ["BALANCE_FIELDS", "BillingBook", "parse_units"]

BALANCE_FIELDS = ("availableBalance", "cashBalance", "creditLimit", "outstandingInvoices")


def parse_units(value: object, field: str) -> int:
    """An amount in 1/10000 USD given as an int or a string of digits (an optional ``-``); ValueError
    otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a whole number of 1/10000 USD, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text.startswith("-") else text
        if digits.isascii() and digits.isdigit():
            return int(text)
    raise ValueError(f"{field} must be a whole number of 1/10000 USD, not {value!r}")


class BillingBook:
    """The balance detail; ``app.state.billing`` of :func:`~novictl.emulator.create_app`. Thread-safe."""

    def __init__(self, state: EmulatorState):
        self._state = state
        self._lock = threading.Lock()
        self._balance: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the configured starting balance."""
        units = int(self._state.config.balance_units)
        with self._lock:
            self._balance = {
                "availableBalance": units,
                "cashBalance": units,
                "creditLimit": 0,
                "outstandingInvoices": 0,
            }

    def balance(self) -> dict[str, str]:
        """The ``GET /billing/balance/detail`` answer: every field a string of 1/10000 USD."""
        with self._lock:
            return {name: str(self._balance[name]) for name in BALANCE_FIELDS}

    def set_balance(self, **fields: object) -> dict[str, str]:
        """Change some of :data:`BALANCE_FIELDS` (ints or numeric strings; the rest stay); ValueError for
        an unknown field or a value that is not a whole number. Returns the new balance."""
        unknown = sorted(set(fields) - set(BALANCE_FIELDS))
        if unknown:
            raise ValueError(f"unknown balance fields: {', '.join(unknown)}")
        parsed = {name: parse_units(value, name) for name, value in fields.items() if value is not None}
        with self._lock:
            self._balance.update(parsed)
        return self.balance()
