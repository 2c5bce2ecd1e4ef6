"""``novictl balance``: the Novita account's money, in USD."""

from typing import Any

import typer

from novictl.cli.context import JsonFlag, get_app, run_async
from novictl.cli.output import print_json, print_table

__all__ = ["register"]


def register(root: typer.Typer) -> None:
    root.command("balance")(balance)


def _dollars(usd: Any) -> str:
    return "-" if usd is None else f"${usd:,.2f}"


def balance(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """The account balance on Novita: available, cash, credit limit and outstanding invoices, in USD.

    "low" is flagged when the available balance is under $5. Exit 6 if Novita stays unavailable.
    """
    from novictl.core.balance import read_balance

    app = get_app(ctx)

    async def fetch() -> dict[str, Any]:
        async with app.novita_client() as client:
            return (await read_balance(client)).to_dict()

    result = run_async(fetch())
    if app.wants_json(json_output):
        print_json(result)
        return
    available = _dollars(result["availableUsd"]) + (" (low)" if result["low"] else "")
    rows = [
        ("available", available),
        ("cash", _dollars(result["cashUsd"])),
        ("credit limit", _dollars(result["creditLimitUsd"])),
        ("outstanding invoices", _dollars(result["outstandingInvoicesUsd"])),
    ]
    print_table(app, ["", "USD"], rows, title="balance", show_header=False)
