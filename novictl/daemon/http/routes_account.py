"""The Novita account: ``GET /api/balance``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from novictl.core.balance import read_balance
from novictl.daemon.http.deps import daemon_of

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["account"])


@router.get("/balance", summary="The Novita account balance, in USD")
async def balance(request: Request) -> dict[str, Any]:
    """The same JSON as ``novictl balance --json``: ``availableUsd``, ``cashUsd``, ``creditLimitUsd``,
    ``outstandingInvoicesUsd`` (null when Novita does not say), ``currency`` and ``low`` (available under
    $5). Asks Novita every time; 503 when Novita stays unavailable."""
    report = await read_balance(daemon_of(request).client)
    return report.to_dict()
