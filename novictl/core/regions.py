"""Naming a region: a person types a code (``US-CA-06``), a place (``California``) or Novita's cluster id
(``us-ca-6``); create needs the cluster id. The map is ``GET /clusters`` (read once per client), never a
rewrite of the text: Novita's ids are not derived from the codes in any documented way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from novictl.errors import UsageError

if TYPE_CHECKING:
    from novictl.novita.client import NovitaClient
    from novictl.novita.models import Cluster

__all__ = ["resolve_clusters"]


async def resolve_clusters(client: NovitaClient, names: Sequence[str]) -> list[Cluster]:
    """The clusters ``names`` mean, in order; :class:`UsageError` listing the known ones for any other."""
    if not names:
        return []
    clusters = await client.list_clusters()
    found: list[Cluster] = []
    for name in names:
        match = next((cluster for cluster in clusters if cluster.answers_to(name)), None)
        if match is None:
            known = ", ".join(f"{c.code} ({c.id})" for c in clusters) or "none"
            raise UsageError(
                f"no Novita region {name!r}",
                hint=f"use a region code, place or cluster id; Novita has: {known}",
            )
        if match not in found:
            found.append(match)
    return found
