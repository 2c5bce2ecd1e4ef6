"""The emulator's world and bookkeeping: instances, faults, call counters. Thread-safe.

The server runs in its own thread (or process); tests poke the same object from theirs, so every public
method takes one re-entrant lock. Nothing here awaits: each call is short.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from novictl.emulator.catalog import CLUSTERS, cluster_by_code, cluster_by_id, fuzzy_contains
from novictl.emulator.config import EmulatorConfig, FaultConfig
from novictl.emulator.faults import FaultDecision, FaultKind, FaultPlan, ScriptedFault
from novictl.emulator.instances import ALL_STATUSES, CREATE, EmulatedInstance, InvalidStateChange
from novictl.emulator.responses import NovitaApiError
from novictl.emulator.seeding import generate_instances, new_instance_id
from novictl.emulator.validation import CreateRequest

__all__ = ["EmulatorState"]


class EmulatorState:
    """Everything the emulator knows; ``app.state.emulator`` of :func:`~novictl.emulator.create_app`.

    ``calls`` counts requests per endpoint (``"POST /gpu/instance/stop"``), faulted ones included;
    ``instance_calls[id]["stop"]`` counts them per instance and operation (``get``, ``create``, ``start``,
    ``stop``, ``restart``, ``delete``).
    """

    def __init__(self, config: EmulatorConfig, *, clock: Callable[[], float] | None = None):
        self.clock: Callable[[], float] = clock or time.time
        self.calls: Counter[str] = Counter()
        self.instance_calls: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._lock = threading.RLock()
        self._config = config
        self._instances: dict[str, EmulatedInstance] = {}  # creation order; lists show newest first
        self._moving: set[str] = set()  # ids with a transition under way
        self._no_capacity: set[str] = set()  # stopped instances whose GPU someone else took
        self._numbered = 0
        self._rng = random.Random(config.seed)
        self._faults = FaultPlan(config.faults, config.seed)
        # Books kept beside the instances (utilisation, balance) clear themselves on every reset.
        self.reset_hooks: list[Callable[[], None]] = []
        self.reset(config)

    # --- configuration and control ---------------------------------------------------------------------

    @property
    def config(self) -> EmulatorConfig:
        return self._config

    @property
    def api_key(self) -> str:
        return self._config.api_key

    @property
    def faults(self) -> FaultConfig:
        return self._faults.config

    def reset(self, config: EmulatorConfig | None = None) -> None:
        """Back to the seed world of ``config`` (default: the current one): counters zeroed, faults as
        configured, script cleared, the seeded instances regenerated."""
        with self._lock:
            self._config = config = config or self._config
            self._instances = {}
            self._moving = set()
            self._no_capacity = set()
            self._numbered = 0
            self._rng = random.Random(config.seed)
            self._faults = FaultPlan(config.faults, config.seed)
            self.reset_calls()
            for hook in self.reset_hooks:
                hook()
            if config.instances:
                self.seed_instances(config.instances)

    def reset_calls(self) -> None:
        """Zero every call counter."""
        with self._lock:
            self.calls.clear()
            self.instance_calls.clear()

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the random fault settings (the script is kept)."""
        with self._lock:
            self._faults.config = faults

    def script_fault(
        self,
        kind: FaultKind,
        *,
        status: int = 503,
        count: int = 1,
        path: str | None = None,
        retry_after: float | None = None,
        seconds: float | None = None,
    ) -> None:
        """The next ``count`` calls to ``path`` (any Novita route when ``None``) answer ``kind``.

        ``"status"`` answers ``status`` (a 429 carries ``Retry-After``: ``retry_after`` or the configured
        one); ``"html"`` answers ``status`` with an HTML page, as a proxy in front of Novita would;
        ``"drop"`` cuts the connection mid-response; ``"slow"`` hangs ``seconds`` (default the configured
        ``slow_seconds``) before answering. Scripted faults run before random ones, in order.
        """
        if kind not in ("status", "html", "drop", "slow"):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._faults.add(ScriptedFault(kind, count, status, path, retry_after, seconds))

    def scripted_faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [vars(fault).copy() for fault in self._faults.script]

    def clear_script(self) -> None:
        with self._lock:
            self._faults.script.clear()

    def seed_instances(self, count: int) -> list[str]:
        """Add ``count`` generated instances (from the seeded RNG); returns their ids, oldest first."""
        with self._lock:
            now = self.clock()
            made = generate_instances(
                self._rng,
                count,
                now=now,
                delay=self._config.step_delay,
                taken=self._instances,
                first_number=self._numbered + 1,
            )
            self._numbered += count
            for instance in made:
                self._instances[instance.id] = instance
                if instance.transition is not None:
                    self._moving.add(instance.id)
            return [instance.id for instance in made]

    def vanish(self, instance_id: str) -> bool:
        """Remove an instance at once, behind the client's back; False when there was none."""
        with self._lock:
            self._moving.discard(instance_id)
            return self._instances.pop(instance_id, None) is not None

    def set_status(self, instance_id: str, status: str) -> None:
        """Force an instance into ``status`` now (any status Novita knows); KeyError when unknown."""
        if status not in ALL_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._lock:
            instance = self._live(instance_id, self.clock())
            if instance is None:
                raise KeyError(instance_id)
            instance.force_status(status)
            self._moving.discard(instance_id)

    def take_capacity(self, instance_id: str, taken: bool = True) -> None:
        """While ``taken``, starting the instance answers 400 ``INSUFFICIENT_RESOURCE`` (its GPU went to
        someone else while it was stopped, as happens on live Novita); KeyError when unknown."""
        with self._lock:
            if self._live(instance_id, self.clock()) is None:
                raise KeyError(instance_id)
            if taken:
                self._no_capacity.add(instance_id)
            else:
                self._no_capacity.discard(instance_id)

    def notify_spot_reclaim(self, instance_id: str, *, in_seconds: float = 3600) -> None:
        """Give a spot instance Novita's reclaim notice (``spotStatus: notified``); KeyError when unknown."""
        with self._lock:
            now = self.clock()
            instance = self._live(instance_id, now)
            if instance is None:
                raise KeyError(instance_id)
            instance.notify_spot_reclaim(now + in_seconds)

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        """The instance as GET /gpu/instance would return it, or ``None`` when it is gone."""
        with self._lock:
            now = self.clock()
            found = self._live(instance_id, now)
            if found is None:
                return None
            return found.detail_json(found.status_at(now) or "removed")

    def __len__(self) -> int:
        with self._lock:
            self._settle_all(self.clock())
            return len(self._instances)

    # --- what the Novita routes call -------------------------------------------------------------------

    def record_call(self, endpoint: str, instance_id: str | None, operation: str | None) -> None:
        with self._lock:
            self.calls[endpoint] += 1
            if instance_id and operation:
                self.instance_calls[instance_id][operation] += 1

    def decide_fault(self, method: str, route: str, full_path: str) -> FaultDecision:
        with self._lock:
            return self._faults.decide(method, route, full_path)

    def list_instances(
        self,
        *,
        page_size: int,
        page_index: int,
        name: str | None = None,
        product_name: str | None = None,
        status: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page (``page_index`` from 0) of the newest-first list, and the total after filters.

        How a request's ``pageNum`` maps to the index is the route's business (``--paging``)."""
        with self._lock:
            now = self.clock()
            self._settle_all(now)
            start = page_index * page_size
            if not (name or product_name or status):
                # The common case stays cheap: slice without touching the other 9,900 instances.
                page = islice(reversed(self._instances.values()), start, start + page_size)
                return [self._listed(item, now) for item in page], len(self._instances)
            matches = list(self._matching(now, name, product_name, status))
            return [self._listed(item, now) for item in matches[start : start + page_size]], len(matches)

    def get_json(self, instance_id: str) -> dict[str, Any]:
        found = self.instance(instance_id)
        if found is None:
            raise NovitaApiError(404, "NOT_FOUND", f"instance {instance_id} not found")
        return found

    def create(self, request: CreateRequest) -> str:
        with self._lock:
            now = self.clock()
            cluster = cluster_by_id(request.cluster_id) if request.cluster_id else None
            if cluster is None:
                cluster = (
                    cluster_by_code(request.product.region_codes[0]) if request.product.region_codes else None
                )
            cluster = cluster or CLUSTERS[0]
            instance = EmulatedInstance(
                id=new_instance_id(self._rng, self._instances),
                name=request.name,
                product=request.product,
                cluster_id=cluster.id,
                cluster_name=cluster.label,
                gpu_num=request.gpu_num,
                rootfs_size=request.rootfs_size,
                image_url=request.image_url,
                created_at=now,
                status="toCreate",
                kind=request.kind,
                image_auth_id=request.image_auth_id,
                command=request.command,
                entrypoint=request.entrypoint,
                ports=request.ports,
                envs=request.envs,
                billing_mode=request.billing_mode,
                template_id=request.template_id,
                network_storages=request.network_storages,
                ssh_password=f"{self._rng.getrandbits(48):012x}",
            )
            instance.begin(CREATE, now, self._config.step_delay)
            self._instances[instance.id] = instance
            self._moving.add(instance.id)
            self.instance_calls[instance.id]["create"] += 1
            return instance.id

    def operate(self, instance_id: str, operation: str) -> str:
        """Run ``start|stop|restart|delete``; returns the status it moves to. Raises NovitaApiError."""
        with self._lock:
            now = self.clock()
            instance = self._live(instance_id, now)
            if instance is None:
                raise NovitaApiError(404, "NOT_FOUND", f"instance {instance_id} not found")
            if (
                operation == "start"
                and instance_id in self._no_capacity
                and instance.status_at(now) == "exited"
            ):
                raise NovitaApiError(
                    400, "INSUFFICIENT_RESOURCE", "insufficient resources: the GPU is not available now"
                )
            try:
                instance.apply(operation, now, self._config.step_delay)
            except InvalidStateChange:
                raise NovitaApiError(400, "INVALID_STATE_CHANGE", "invalid state change") from None
            if instance.transition is not None:
                self._moving.add(instance_id)
            return instance.status_at(now) or "removed"

    # --- internals -------------------------------------------------------------------------------------

    def _live(self, instance_id: str, now: float) -> EmulatedInstance | None:
        instance = self._instances.get(instance_id)
        if instance is not None and instance.settle(now):
            self.vanish(instance_id)
            return None
        return instance

    def _settle_all(self, now: float) -> None:
        for instance_id in list(self._moving):
            instance = self._instances[instance_id]
            if instance.settle(now):
                self.vanish(instance_id)
            elif instance.transition is None:
                self._moving.discard(instance_id)

    def _listed(self, instance: EmulatedInstance, now: float) -> dict[str, Any]:
        return instance.list_json(instance.status_at(now) or "removed")

    def _matching(
        self, now: float, name: str | None, product_name: str | None, status: str | None
    ) -> Iterator[EmulatedInstance]:
        for instance in reversed(self._instances.values()):
            if name and name.lower() not in instance.name.lower():
                continue
            if product_name and not fuzzy_contains(instance.product.name, product_name):
                continue
            if status and instance.status_at(now) != status:
                continue
            yield instance
