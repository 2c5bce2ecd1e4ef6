"""A bounded schemathesis run against the daemon's own /openapi.json: generated requests never get a 500.

The daemon runs as a real process (real HTTP) against the emulator, with a rate limit high enough that the
run measures the API, not the limiter. Destructive routes act on the emulator only.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from tests.fixtures.daemon import seed_running

EXAMPLES_PER_OPERATION = 12


def test_generated_requests_never_get_a_500(emulator: Any, daemon_env: Any, daemon_process: Any) -> None:
    seed_running(emulator, 3)
    daemon = daemon_process(
        daemon_env(NOVICTL_DAEMON__RATE_LIMIT_PER_MINUTE="100000", NOVICTL_AUTOSTOP__DRY_RUN="true")
    )
    schema = schemathesis.openapi.from_url(f"{daemon.url}/openapi.json")
    failures: list[str] = []
    operations = 0

    def exercise(operation: Any) -> None:
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def one(case: Any) -> None:
            response = case.call(base_url=daemon.url, timeout=10)
            if response.status_code >= 500 and response.status_code != 503:
                failures.append(f"{operation.label}: {response.status_code} {response.text[:200]}")

        one()

    for result in schema.get_all_operations():
        operations += 1
        assert isinstance(result, Ok), result  # an operation the schema could not describe is a failure
        exercise(result.ok())

    assert operations >= 10, "the OpenAPI document lists the daemon's routes"
    assert not failures, "\n".join(failures[:10])
    assert httpx.get(f"{daemon.url}/health", timeout=5).status_code == 200
