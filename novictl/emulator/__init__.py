"""A local Novita.ai GPU instance API, with fault injection and call counters.

``novictl emulator`` serves it; tests start :class:`EmulatorServer` on a free port. It serves the Novita
routes under ``/gpu-instance/openapi/v1`` (clusters, products, instance create/list/get/start/stop/restart/
delete, template, repository auths) with Novita's envelopes, string-typed numbers and prices in 1/100000
USD per GPU per hour; it needs ``Authorization: Bearer <api key>`` (default key ``emulator-key``).
Instances move through Novita's statuses by elapsed time, one status per ``step_delay``.

Control API (no auth, JSON; ``http://HOST:PORT/_emulator/...``)::

    GET    /_emulator/health                  {"status": "ok", "instances": N}
    GET    /_emulator/faults                  the fault settings and the pending scripted faults
    PUT    /_emulator/faults                  replace the fault settings, e.g.
                                              {"latency_ms": 200, "rate_429": 0.1, "retry_after_seconds": 2,
                                               "rate_5xx": 0.05, "status_5xx": 503, "rate_drop": 0.02,
                                               "rate_slow": 0.01, "slow_seconds": 30,
                                               "paths": ["/gpu/instances", "POST /gpu/instance/stop"]}
    POST   /_emulator/faults/script           {"kind": "status"|"drop"|"slow", "status": 503, "count": 1,
                                               "path": "/gpu/instance/stop", "retry_after": 1, "seconds": 30}
                                              the next `count` calls to `path` get that fault, in order
    DELETE /_emulator/faults/script           forget the pending scripted faults
    GET    /_emulator/calls                   {"calls": {"GET /gpu/instances": 3, ...},
                                               "instanceCalls": {"<id>": {"stop": 1, ...}}}
    POST   /_emulator/calls/reset             zero the counters
    POST   /_emulator/reset                   back to the seed world (counters zeroed, faults as started)
    POST   /_emulator/instances               {"count": N} adds N generated instances → {"ids": [...]}
    DELETE /_emulator/instances/{id}          the instance vanishes now (GET 404, gone from the list)
    POST   /_emulator/instances/{id}/status   {"status": "exited"} forces a status now

Faults: ``rate_*`` are shares of requests (one seeded roll per request, so they are exclusive); a 429 carries
``Retry-After``; a drop sends the response headers and then closes the connection (clients see a transport
error); a slow request hangs ``slow_seconds`` before answering. Every request to a Novita route is counted,
faulted or not. Interactive docs: ``/_emulator/docs``.
"""

from novictl.emulator.app import create_app
from novictl.emulator.config import EmulatorConfig, FaultConfig
from novictl.emulator.gateway import BASE_PATH
from novictl.emulator.server import EmulatorServer
from novictl.emulator.state import EmulatorState

__all__ = ["BASE_PATH", "EmulatorConfig", "EmulatorServer", "EmulatorState", "FaultConfig", "create_app"]
