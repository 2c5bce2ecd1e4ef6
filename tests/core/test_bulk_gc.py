"""Collecting less often around bulk passes: nestable, overlapping across tasks, always restored."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from novictl.core.bulk_gc import BULK_THRESHOLD, bulk_gc

USUAL = (700, 10, 10)


@pytest.fixture(autouse=True)
def usual_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(*USUAL)
    yield
    gc.set_threshold(*saved)


def test_collects_less_often_inside_and_as_usual_after() -> None:
    with bulk_gc():
        assert gc.get_threshold() == (BULK_THRESHOLD, 10, 10)
        assert gc.isenabled()  # cycles made meanwhile are still collected
    assert gc.get_threshold() == USUAL


def test_nested_passes_restore_only_at_the_outermost_end() -> None:
    with bulk_gc():
        with bulk_gc():
            pass
        assert gc.get_threshold()[0] == BULK_THRESHOLD
    assert gc.get_threshold() == USUAL


def test_an_error_inside_still_restores() -> None:
    with pytest.raises(RuntimeError), bulk_gc():
        raise RuntimeError("boom")
    assert gc.get_threshold() == USUAL


def test_a_higher_threshold_set_by_the_program_is_kept() -> None:
    gc.set_threshold(50_000, 5, 5)
    with bulk_gc():
        assert gc.get_threshold() == (50_000, 5, 5)
    assert gc.get_threshold() == (50_000, 5, 5)


def test_collection_switched_off_by_the_program_stays_off() -> None:
    gc.set_threshold(0, 10, 10)
    with bulk_gc():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold() == (0, 10, 10)


async def test_overlapping_tasks_restore_when_the_last_one_ends() -> None:
    first_in = asyncio.Event()
    release_first = asyncio.Event()
    seen: list[int] = []

    async def first() -> None:
        with bulk_gc():
            first_in.set()
            await release_first.wait()
        seen.append(gc.get_threshold()[0])  # the second pass still runs

    async def second() -> None:
        await first_in.wait()
        with bulk_gc():
            release_first.set()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        seen.append(gc.get_threshold()[0])

    await asyncio.gather(first(), second())
    assert seen == [BULK_THRESHOLD, USUAL[0]]


def test_httpcore_finds_sniffio() -> None:
    # httpcore imports sniffio on every request; without it each import fails after scanning sys.path,
    # which cost a third of a 10,000-instance auto-stop run. It is a declared dependency for that reason.
    import importlib.util

    assert importlib.util.find_spec("sniffio") is not None, "pip install sniffio (a novictl dependency)"
