"""A local Novita.ai GPU instance API, with fault injection and call counters.

``novictl emulator`` serves it; tests start :class:`EmulatorServer` on a free port. It serves the Novita
routes under ``/gpu-instance/openapi/v1`` (clusters, products, instance create/list/get/start/stop/restart/
delete, template, repository auths) with Novita's envelopes, string-typed numbers and prices in 1/100000
USD per GPU per hour, and under ``/openapi/v1`` GPU metrics (``GET /metrics/gpu/instance``, series built
from each instance's utilisation, sampled every ``metrics_interval`` and ``metrics_lag`` behind; see
:mod:`novictl.emulator.utilization_book`) and the balance (``GET /billing/balance/detail``, 1/10000 USD). Both
prefixes need ``Authorization: Bearer <api key>`` (default key ``emulator-key``). Instances move through
Novita's statuses by elapsed time, one status per ``step_delay``.

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
    GET    /_emulator/calls                   {"calls": {"GET /gpu/instances": 3,
                                                         "GET /metrics/gpu/instance": 1, ...},
                                               "instanceCalls": {"<id>": {"stop": 1, "metrics": 1, ...}}}
    POST   /_emulator/calls/reset             zero the counters
    POST   /_emulator/reset                   back to the seed world (counters zeroed, faults as started,
                                              utilisation history, metrics mode and balance as started)
    POST   /_emulator/instances               {"count": N} adds N generated instances → {"ids": [...]}
    DELETE /_emulator/instances/{id}          the instance vanishes now (GET 404, gone from the list)
    POST   /_emulator/instances/{id}/status   {"status": "exited"} forces a status now
    POST   /_emulator/instances/{id}/capacity {"taken": true}: its start answers 400
                                              INSUFFICIENT_RESOURCE until {"taken": false}
    POST   /_emulator/instances/{id}/spot-notice  {"inSeconds": 3600}: spotStatus "notified"
    GET    /_emulator/instances/{id}/utilization   the utilisation now: {"gpu", "perGpu", "gpuMem",
                                              "perGpuMem", "cpu", "mem", "rootDisk"} (percent)
    PUT    /_emulator/instances/{id}/utilization   {"gpu": 85, "gpuMem": 40, "cpu": 20, "mem": 30,
                                               "rootDisk": 10, "perGpu": [90, 0], "perGpuMem": [50, 5]}
                                              each optional (0-100, unchanged when left out); from now on
                                              metrics show it; "gpu" sets every GPU, then "perGpu[i]" GPU i
    GET    /_emulator/metrics                 {"mode": "normal", "interval": 30, "lag": 60}
    PUT    /_emulator/metrics                 {"mode": "normal"|"not_found"|"empty"}: not_found answers 404
                                              for every instance, empty the right shape with empty lists
    GET    /_emulator/balance                 the balance detail (strings, 1/10000 USD)
    PUT    /_emulator/balance                 {"availableBalance": "900000", "cashBalance": 0,
                                               "creditLimit": "0", "outstandingInvoices": "0"} each optional
    GET    /_emulator/config                  the settings it runs with (paging, metrics_interval, ...;
                                              not the API key)

Faults: ``rate_*`` are shares of requests (one seeded roll per request, so they are exclusive); a 429 carries
``Retry-After``; a drop sends the response headers and then closes the connection (clients see a transport
error); a slow request hangs ``slow_seconds`` before answering. Every request to a Novita route (either
prefix) is counted, faulted or not, under its path without the prefix; fault ``paths`` use the same form
(``"/metrics/gpu/instance"``). Interactive docs: ``/_emulator/docs``.
"""

from novictl.emulator.app import create_app
from novictl.emulator.config import EmulatorConfig, FaultConfig
from novictl.emulator.gateway import BASE_PATH
from novictl.emulator.server import EmulatorServer
from novictl.emulator.state import EmulatorState

__all__ = ["BASE_PATH", "EmulatorConfig", "EmulatorServer", "EmulatorState", "FaultConfig", "create_app"]
