"""One emulated instance: its fields, its lifecycle (computed lazily from elapsed time), its JSON.

A lifecycle operation does not schedule anything. It stores a :class:`Transition` — the statuses to show,
when it began and how long each lasts — and the current status is computed whenever someone looks. So 10,000
instances cost nothing while nobody reads them, and an injected clock drives everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from novictl.emulator.catalog import EmulatedProduct

__all__ = [
    "ALL_STATUSES",
    "KEEP_DATA_DAYS",
    "OPERATIONS",
    "STORAGE_UNITS_PER_GB_HOUR",
    "EmulatedInstance",
    "InvalidStateChange",
    "Operation",
    "Transition",
]

ALL_STATUSES = frozenset(
    {
        "toCreate", "creating", "pulling", "running", "toStart", "starting", "toStop", "stopping", "exited",
        "toRestart", "restarting", "toRemove", "removing", "removed", "toReset", "resetting", "migrating",
        "freezing", "pending",
    }
)  # fmt: skip


KEEP_DATA_DAYS = 7
"""Days Novita keeps a stopped instance's data."""
STORAGE_UNITS_PER_GB_HOUR = 14
"""What a stopped instance's disk costs: 1/100000 USD per GB per hour (about $0.10 per GB a month)."""


class InvalidStateChange(Exception):
    """The instance's status does not allow the operation (Novita answers 400 "invalid state change")."""


@dataclass(frozen=True)
class Operation:
    """A lifecycle operation: where it may start, the statuses it passes through, where it ends."""

    allowed_from: frozenset[str]
    steps: tuple[str, ...]
    final: str | None  # None: the instance is gone at the end
    marks: str | None = None  # "started" / "stopped": which timestamp the end of it sets


CREATE = Operation(frozenset(), ("toCreate", "creating", "pulling"), "running", marks="started")
OPERATIONS: dict[str, Operation] = {
    "start": Operation(frozenset({"exited"}), ("toStart", "starting"), "running", marks="started"),
    "stop": Operation(
        frozenset({"running", "pulling", "starting"}), ("toStop", "stopping"), "exited", "stopped"
    ),
    "restart": Operation(frozenset({"running"}), ("toRestart", "restarting"), "running", marks="started"),
    "delete": Operation(ALL_STATUSES - {"removing", "removed"}, ("toRemove", "removing", "removed"), None),
}


@dataclass(frozen=True)
class Transition:
    """An operation in progress: ``steps[i]`` is shown during ``[began + i*delay, began + (i+1)*delay)``."""

    operation: Operation
    began: float
    delay: float

    @property
    def ends(self) -> float:
        return self.began + len(self.operation.steps) * self.delay

    def status_at(self, now: float) -> str | None:
        if now >= self.ends:
            return self.operation.final
        index = int((now - self.began) / self.delay) if self.delay > 0 else 0
        return self.operation.steps[max(0, index)]


@dataclass(eq=False)
class EmulatedInstance:
    """What the emulator stores per instance. The status is ``status`` unless a transition is running."""

    id: str
    name: str
    product: EmulatedProduct
    cluster_id: str
    cluster_name: str
    gpu_num: int
    rootfs_size: int
    image_url: str
    created_at: float
    status: str
    kind: str = "gpu"
    image_auth_id: str = ""
    command: str = ""
    entrypoint: str = ""
    ports: list[tuple[int, str]] = field(default_factory=list)
    envs: list[dict[str, str]] = field(default_factory=list)
    billing_mode: str = "onDemand"
    template_id: str = ""
    network_storages: list[dict[str, str]] = field(default_factory=list)
    last_started_at: float | None = None
    last_stopped_at: float | None = None
    transition: Transition | None = None
    ssh_password: str = ""
    spot_status: str = ""
    spot_reclaim_at: float | None = None
    _cached: dict[str, Any] | None = field(default=None, repr=False)

    # --- lifecycle -------------------------------------------------------------------------------------

    def status_at(self, now: float) -> str | None:
        """The status a GET at ``now`` shows; ``None`` once a delete has run its course."""
        return self.transition.status_at(now) if self.transition else self.status

    def begin(self, operation: Operation, now: float, delay: float) -> None:
        """Start ``operation`` at ``now`` (replacing whatever transition was running)."""
        self.transition = Transition(operation, now, delay)
        self._cached = None

    def apply(self, name: str, now: float, delay: float) -> None:
        """Run operation ``name`` if the current status allows it, else raise :class:`InvalidStateChange`."""
        current = self.status_at(now)
        operation = OPERATIONS[name]
        if current is None or current not in operation.allowed_from:
            raise InvalidStateChange(f"cannot {name} an instance that is {current}")
        if name == "delete" and current == "toRemove":
            return  # already on its way out; a second delete changes nothing
        self.settle(now)
        self.begin(operation, now, delay)

    def settle(self, now: float) -> bool:
        """Fold a finished transition into the stored fields. True when the instance is now gone."""
        transition = self.transition
        if transition is None or now < transition.ends:
            return False
        self.transition = None
        self._cached = None
        if transition.operation.final is None:
            return True
        self.status = transition.operation.final
        if transition.operation.marks == "started":
            self.last_started_at = transition.ends
        elif transition.operation.marks == "stopped":
            self.last_stopped_at = transition.ends
        return False

    def notify_spot_reclaim(self, at: float) -> None:
        """Novita's one-hour notice before it takes a spot instance back."""
        self.spot_status = "notified"
        self.spot_reclaim_at = at
        self._cached = None

    def force_status(self, status: str) -> None:
        """Put the instance in ``status`` at once, abandoning any transition (control API)."""
        self.transition = None
        self.status = status
        self._cached = None

    # --- JSON ------------------------------------------------------------------------------------------

    def list_json(self, status: str) -> dict[str, Any]:
        """The list item as GET /gpu/instances sends it. Cached per status: do not mutate the result."""
        cached = self._cached
        if cached is None or cached["status"] != status:
            cached = self._cached = self._build_list_json(status)
        return cached

    def detail_json(self, status: str) -> dict[str, Any]:
        """The object GET /gpu/instance sends: the list item plus connection details."""
        data = dict(self.list_json(status))
        host = self._proxy_host()
        data.update(
            {
                "network": {"id": "", "ip": f"10.{int(self.id[:2], 16)}.{int(self.id[2:4], 16)}.7"},
                "node": {
                    "id": f"node-{self.id[-6:]}",
                    "name": f"{self.cluster_id.lower()}-gpu-{self.id[-3:]}",
                },
                "jobs": [],
                "connectComponentSSH": {
                    "sshCommand": f"ssh -p {self._mapped_port(22)} root@{host}",
                    "password": self.ssh_password,
                    "isRunning": status == "running",
                },
                "connectComponentWebTerminal": {
                    "address": f"https://{self.id}-terminal.{self._domain()}",
                    "isRunning": status == "running",
                },
                "connectComponentJupyter": {
                    "address": f"https://{self.id}-8888.{self._domain()}" if self._has_port(8888) else "",
                    "isRunning": status == "running" and self._has_port(8888),
                },
                "connectComponentLog": {"address": f"https://{self.id}-log.{self._domain()}"},
                "freeStorageSize": max(0, self.rootfs_size - 7),
                "keepDataDay": KEEP_DATA_DAYS,
                # From an older page of Novita's docs: the instance's own hourly price and what its disk
                # costs while stopped, both in 1/100000 USD per hour.
                "instancePrice": str(self.hourly_units()),
                "exitedLocalStoragePrice": str(self.rootfs_size * STORAGE_UNITS_PER_GB_HOUR),
            }
        )
        # New objects: the list item is cached and shared, and must keep its own shape.
        data["portMappings"] = [
            {"port": port, "endpoint": self._endpoint(port, kind), "type": kind} for port, kind in self.ports
        ]
        data["volumeMounts"] = [{**mount, "size": int(mount["size"])} for mount in data["volumeMounts"]]
        return data

    def hourly_units(self) -> int:
        """What the instance costs per hour while it runs, in 1/100000 USD (all its GPUs)."""
        spot = self.billing_mode == "spot" and self.product.spot_price != "0"
        return int(self.product.spot_price if spot else self.product.price) * self.gpu_num

    def _build_list_json(self, status: str) -> dict[str, Any]:
        product = self.product
        return {
            "id": self.id,
            "name": self.name,
            "clusterId": self.cluster_id,
            "clusterName": self.cluster_name,
            "status": status,
            "imageUrl": self.image_url,
            "imageAuthId": self.image_auth_id,
            "command": self.command,
            "entrypoint": self.entrypoint,
            "cpuNum": str(product.cpu_per_gpu * self.gpu_num),
            "memory": str(product.memory_per_gpu * self.gpu_num),
            "gpuNum": str(self.gpu_num),
            # The list leaves out TCP endpoints (live Novita sends some mappings without one); GET has all.
            "portMappings": [
                {"port": port, "type": kind}
                | ({"endpoint": self._endpoint(port, kind)} if kind == "http" else {})
                for port, kind in self.ports
            ],
            "productId": product.id,
            "productName": product.name,
            "rootfsSize": self.rootfs_size,
            "volumeMounts": [
                {
                    "type": "network",
                    "id": item.get("Id", ""),
                    "mountPath": item.get("mountPoint", ""),
                    "size": "100",  # a string in the list, an integer in GET, as on live Novita
                }
                for item in self.network_storages
            ],
            "statusError": {"state": "", "message": ""},
            "envs": self.envs,
            "kind": self.kind,
            "billingMode": self.billing_mode,
            "endTime": "-1",
            "spotStatus": self.spot_status,
            "spotReclaimTime": _unix(self.spot_reclaim_at),
            "createdAt": str(int(self.created_at)),
            "lastStartedAt": _unix(self.last_started_at),
            "lastStoppedAt": _unix(self.last_stopped_at),
            "gpuIds": list(range(self.gpu_num)),
            "templateId": self.template_id,
            # Live list items carry the SSH password; novictl must never keep or show it.
            "sshPassword": self.ssh_password,
        }

    def _domain(self) -> str:
        return f"{self.cluster_id.lower()}.gpu-instance.novita.ai"

    def _proxy_host(self) -> str:
        return f"proxy.{self._domain()}"

    def _mapped_port(self, port: int) -> int:
        # Stable per instance and port, in the range Novita's TCP proxy hands out.
        return 30000 + (int(self.id[:6], 16) + port * 7919) % 30000

    def _endpoint(self, port: int, kind: str) -> str:
        if kind == "http":
            return f"https://{self.id}-{port}.{self._domain()}"
        return f"{self._proxy_host()}:{self._mapped_port(port)}"

    def _has_port(self, wanted: int) -> bool:
        return any(port == wanted for port, _ in self.ports)


def _unix(value: float | None) -> str:
    return str(int(value)) if value is not None else "0"
