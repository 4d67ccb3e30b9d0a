"""Partial answers: essential parts must succeed; optional parts degrade to defaults."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import seawall
from seawall.testing import FakeClock, capture_events


async def value(v: Any) -> Any:
    return v


async def hang() -> Any:
    await asyncio.Event().wait()


async def boom() -> Any:
    raise ConnectionError("recommendations down")


def test_all_parts_succeed_and_nothing_is_degraded() -> None:
    result = asyncio.run(
        seawall.partial(
            {
                "user": lambda: value("ada"),
                "recs": seawall.optional(lambda: value(["x"]), default=[]),
            }
        )
    )
    assert dict(result) == {"user": "ada", "recs": ["x"]}
    assert result.complete
    assert result.degraded_header() is None


def test_a_failed_optional_part_yields_its_default_and_is_named_degraded() -> None:
    with capture_events() as events:
        result = asyncio.run(
            seawall.partial(
                {"user": lambda: value("ada"), "recs": seawall.optional(boom, default=[])}
            )
        )
    assert result["recs"] == []
    assert result.degraded == {"recs"}
    assert isinstance(result.errors["recs"], ConnectionError)
    assert result.degraded_header() == "recs"
    [event] = events
    assert isinstance(event, seawall.PartDegraded)
    assert (event.name, event.reason) == ("recs", "error")


def test_a_late_optional_part_is_cut_a_reserve_before_the_deadline() -> None:
    clock = FakeClock()

    async def main() -> seawall.PartialResult:
        with seawall.deadline(1.0, clock=clock):
            return await seawall.partial(
                {
                    "user": lambda: value("ada"),
                    "recs": seawall.optional(hang, default=[]),
                    "reviews": seawall.optional(hang, default=None, timeout=0.2),
                },
                clock=clock,
            )

    result = asyncio.run(main())
    assert dict(result) == {"user": "ada", "recs": [], "reviews": None}
    assert result.degraded_header() == "recs, reviews"
    assert isinstance(result.errors["recs"], seawall.DeadlineExceeded)
    assert result.errors["recs"].timeout == pytest.approx(0.9)  # 1 s less the 10 % reserve
    assert result.errors["reviews"].timeout == pytest.approx(0.2)  # type: ignore[attr-defined]


def test_an_essential_failure_raises_and_cancels_the_other_parts() -> None:
    cancelled = []

    async def slow() -> Any:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("slow")
            raise

    async def main() -> None:
        await seawall.partial(
            {"user": boom, "recs": seawall.optional(slow, default=[]), "other": slow}
        )

    with pytest.raises(ConnectionError) as caught:
        asyncio.run(main())
    assert cancelled == ["slow", "slow"]
    assert "essential part 'user'" in "".join(caught.value.__notes__)


def test_an_essential_part_unfinished_at_the_deadline_raises_deadline_exceeded() -> None:
    clock = FakeClock()

    async def main() -> None:
        with seawall.deadline(0.5, clock=clock):
            await seawall.partial({"user": hang}, clock=clock)

    with pytest.raises(seawall.DeadlineExceeded, match="user"):
        asyncio.run(main())


def test_cancelling_partial_cancels_every_part() -> None:
    async def main() -> list[str]:
        cancelled: list[str] = []

        async def part(name: str) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(name)
                raise

        task = asyncio.create_task(
            seawall.partial(
                {"a": lambda: part("a"), "b": seawall.optional(lambda: part("b"), default=0)}
            )
        )
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return sorted(cancelled)

    assert asyncio.run(main()) == ["a", "b"]


def test_parts_run_in_the_callers_context() -> None:
    async def read_priority() -> str | None:
        return seawall.current_priority()

    async def main() -> seawall.PartialResult:
        with seawall.priority("high"):
            return await seawall.partial({"p": read_priority})

    assert asyncio.run(main())["p"] == "high"


def test_sync_form_runs_parts_on_threads() -> None:
    clock = FakeClock()
    release = threading.Event()

    def stuck() -> str:
        release.wait()
        return "too late"

    def broken() -> str:
        raise ConnectionError("down")

    try:
        with seawall.deadline(2.0, clock=clock):
            result = seawall.partial_sync(
                {
                    "user": lambda: "ada",
                    "recs": seawall.optional(stuck, default=[], timeout=0.5),
                    "ads": seawall.optional(broken, default=None),
                    "prio": seawall.current_priority,
                },
                clock=clock,
            )
    finally:
        release.set()
    assert dict(result) == {"user": "ada", "recs": [], "ads": None, "prio": None}
    assert result.degraded == {"recs", "ads"}
    assert clock.now() == pytest.approx(0.5)


def test_sync_form_raises_essential_failures_and_deadlines() -> None:
    clock = FakeClock()
    release = threading.Event()

    def broken() -> str:
        raise KeyError("no user")

    with pytest.raises(KeyError):
        seawall.partial_sync({"user": broken}, clock=clock)
    try:
        with seawall.deadline(0.3, clock=clock), pytest.raises(seawall.DeadlineExceeded):
            seawall.partial_sync({"user": release.wait}, clock=clock)
    finally:
        release.set()


def test_bad_parts_raise_config_error() -> None:
    with pytest.raises(seawall.ConfigError):
        asyncio.run(seawall.partial({}))
    with pytest.raises(seawall.ConfigError):
        seawall.partial_sync({"x": 42})
    with pytest.raises(seawall.ConfigError):
        seawall.optional(42, default=None)  # type: ignore[arg-type]
