"""Every public constructor of the core either works as documented or raises ConfigError.

The fuzz tests feed each constructor arbitrary numbers (inf, NaN, negatives, huge values,
bools, numeric strings, timedeltas) and then use whatever was built once, sync and async,
on a FakeClock: a bad number must be refused where it was written, not on the first call.
The table below pins each refusal directly, with the argument the error must name.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seawall
from seawall import ConfigError
from seawall._validate import MAX_SECONDS, count, optional_seconds, real, seconds
from seawall.lease import LeaderElector, LeaseTiming, MemoryLeaseStore
from seawall.testing import FakeClock

INF, NAN = math.inf, math.nan

# What a user might pass where a number is expected.
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0.0, max_value=100.0),  # plausible ones, so that many are built
    st.integers(min_value=0, max_value=100),
    st.sampled_from([0, 0.0, -0.0, 1, 2, 0.5, 1.0, 3, 10, 30.0, 1e9, 1e10, 1e300, -1, -1e-9]),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([10**6, 10**6 + 1, 10**7, 10**18]),
    st.booleans(),
    st.sampled_from(["5", "0.5", "nan", "inf", "-1", "", "1e400"]),
    st.timedeltas(),
    st.none(),
)

# The parameters of each constructor that take numbers (or a choice among names).
CONSTRUCTORS: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {
    "Timeout": (lambda **kw: seawall.Timeout(**{"seconds": 1.0, **kw}), ("seconds",)),
    "Retry": (seawall.Retry, ("attempts", "timeout")),
    "RetryBudget": (
        lambda clock, **kw: seawall.Retry(
            budget=seawall.RetryBudget(clock=clock, **kw), clock=clock
        ),
        ("ratio", "min_per_second", "window", "buckets"),
    ),
    "CircuitBreaker": (
        seawall.CircuitBreaker,
        (
            "failure_rate",
            "window",
            "min_calls",
            "cooldown",
            "half_open_calls",
            "slow_call_duration",
            "slow_call_rate",
        ),
    ),
    "Bulkhead": (seawall.Bulkhead, ("max_concurrent", "max_queue", "max_wait")),
    "Fallback": (lambda **kw: seawall.Fallback(factory=kw.get("factory", str)), ("factory",)),
    "LoadShedder": (
        seawall.LoadShedder,
        ("limit", "max_concurrent", "max_queue", "queue_target", "queue_interval"),
    ),
    "AdaptiveThrottle": (
        seawall.AdaptiveThrottle,
        ("k", "window", "buckets", "max_rejection_probability"),
    ),
    "SingleFlight": (seawall.SingleFlight, ("key",)),
    "Cache": (
        lambda **kw: seawall.Cache(**{"ttl": 5.0, **kw}),
        (
            "ttl",
            "jitter",
            "stale_while_revalidate",
            "stale_if_error",
            "early_refresh",
            "max_entries",
        ),
    ),
    "standard": (
        lambda **kw: seawall.standard("dep", **kw),
        (
            "timeout",
            "total_timeout",
            "attempts",
            "failure_rate",
            "window",
            "min_calls",
            "cooldown",
            "half_open_calls",
            "slow_call_duration",
            "max_concurrent",
            "max_queue",
            "max_wait",
        ),
    ),
}

LIMITS: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {
    "FixedLimit": (lambda **kw: seawall.FixedLimit(kw.get("value", 10)), ("value",)),
    "AIMDLimit": (
        seawall.AIMDLimit,
        ("initial", "min_limit", "max_limit", "backoff_ratio", "increase", "latency_threshold"),
    ),
    "GradientLimit": (
        seawall.GradientLimit,
        (
            "initial",
            "min_limit",
            "max_limit",
            "window",
            "min_samples",
            "tolerance",
            "smoothing",
            "long_window",
        ),
    ),
}

BACKOFFS: dict[str, tuple[Callable[..., seawall.Backoff], tuple[str, ...]]] = {
    "exponential": (seawall.Backoff.exponential, ("initial", "multiplier", "maximum", "jitter")),
    "constant": (
        lambda **kw: seawall.Backoff.constant(**{"delay": 1.0, **kw}),
        ("delay", "jitter"),
    ),
    "full_jitter": (seawall.Backoff.full_jitter, ("base", "maximum")),
    "equal_jitter": (seawall.Backoff.equal_jitter, ("base", "maximum")),
    "decorrelated": (seawall.Backoff.decorrelated, ("base", "maximum")),
}


def arguments(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """One of ``names`` or any subset of them, each given an arbitrary value.

    Mostly one argument at a time: with several arbitrary values, one of them is nearly
    always refused, and the constructed policies would rarely be used.
    """
    one_argument = st.sampled_from(names).flatmap(lambda n: st.fixed_dictionaries({n: NUMBERS}))
    some = st.fixed_dictionaries({}, optional=dict.fromkeys(names, NUMBERS))
    return st.one_of(one_argument, one_argument, one_argument, some)


def never_valid(value: Any) -> bool:
    """A bool, a string, NaN or a negative: no numeric argument of the core takes these."""
    if isinstance(value, (bool, str)):
        return True
    if isinstance(value, timedelta):
        return value < timedelta(0)
    return isinstance(value, (int, float)) and (math.isnan(value) or value < 0)


def built(factory: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """The constructed object, or None if it was refused with a ConfigError."""
    try:
        made = factory(**kwargs)
    except ConfigError as exc:
        assert str(exc)  # every refusal says what was wrong
        return None
    refused = {k: v for k, v in kwargs.items() if never_valid(v)}
    assert not refused, f"accepted {refused}"
    return made


def one(x: int) -> int:
    return x


async def aone(x: int) -> int:
    await asyncio.sleep(0)
    return x


def use_once(policy: seawall.Policy) -> None:
    """Call the policy once with a trivial function, sync and async: nothing may fail."""
    assert policy.call(one, 1) == 1
    assert asyncio.run(policy.acall(aone, 2)) == 2


@settings(max_examples=150)
@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
@given(data=st.data())
def test_a_policy_either_refuses_its_arguments_or_works(name: str, data: st.DataObject) -> None:
    factory, names = CONSTRUCTORS[name]
    kwargs = data.draw(arguments(names), label="kwargs")
    policy = built(lambda **kw: factory(**kw, clock=FakeClock()), kwargs)
    if policy is not None:
        use_once(policy)


@settings(max_examples=60)
@pytest.mark.parametrize("name", sorted(LIMITS))
@given(data=st.data())
def test_a_limit_either_refuses_its_arguments_or_works(name: str, data: st.DataObject) -> None:
    factory, names = LIMITS[name]
    limit = built(factory, data.draw(arguments(names), label="kwargs"))
    if limit is not None:
        assert limit.update(now=0.0, rtt=0.01, inflight=1, dropped=False) >= 1
        use_once(seawall.LoadShedder(limit=limit, clock=FakeClock()))


@settings(max_examples=60)
@pytest.mark.parametrize("name", sorted(BACKOFFS))
@given(data=st.data())
def test_a_backoff_either_refuses_its_arguments_or_gives_sleepable_delays(
    name: str, data: st.DataObject
) -> None:
    factory, names = BACKOFFS[name]
    backoff = built(factory, data.draw(arguments(names), label="kwargs"))
    if backoff is None:
        return
    rng, previous = random.Random(0), None
    for retry in range(1, 11):
        previous = backoff.delay(retry, previous, rng)
        assert 0.0 <= previous <= MAX_SECONDS
    clock = FakeClock()
    retry_policy = seawall.Retry(4, backoff=backoff, clock=clock, rng=rng)
    assert retry_policy.call(one, 3) == 3


@settings(max_examples=80)
@given(seconds=NUMBERS, cap=NUMBERS)
def test_a_deadline_either_refuses_its_seconds_or_carries_them(seconds: Any, cap: Any) -> None:
    clock = FakeClock()
    scope = built(lambda seconds: seawall.deadline(seconds, clock=clock), {"seconds": seconds})
    if scope is None:
        return
    with scope:
        left = seawall.remaining()
        assert left is None or 0.0 <= left <= MAX_SECONDS
        given_cap = built(seawall.downstream_timeout, {"cap": cap})
        assert given_cap is None or 0.0 <= given_cap <= MAX_SECONDS
    assert asyncio.run(seawall.Timeout(INF, clock=clock).acall(aone, 1)) == 1


@settings(max_examples=60)
@given(data=st.data())
def test_a_registry_either_refuses_its_arguments_or_works(data: st.DataObject) -> None:
    kwargs = data.draw(arguments(("max_keys", "idle_timeout")), label="kwargs")
    clock = FakeClock()
    registry = built(
        lambda **kw: seawall.Registry(seawall.CircuitBreaker, clock=clock, **kw), kwargs
    )
    if registry is not None:
        breaker = registry.get("db")
        clock.advance(1e9)
        assert registry.get("db") is not None
        use_once(breaker)


@settings(max_examples=60)
@given(timeout=NUMBERS)
def test_an_optional_part_either_refuses_its_timeout_or_works(timeout: Any) -> None:
    part = built(
        lambda timeout: seawall.optional(list, default=[], timeout=timeout), {"timeout": timeout}
    )
    if part is not None:
        assert dict(seawall.partial_sync({"recs": part}, clock=FakeClock())) == {"recs": []}


@settings(max_examples=40)
@given(data=st.data())
def test_a_leader_elector_either_refuses_its_timing_or_works(data: st.DataObject) -> None:
    names = ("lease_duration", "renew_deadline", "retry_period", "clock_drift_margin")
    kwargs = data.draw(arguments(names), label="kwargs")
    store = MemoryLeaseStore(clock=FakeClock())
    elector = built(lambda **kw: LeaderElector(store.lease(), clock=store.clock, **kw), kwargs)
    if elector is not None:
        assert elector.is_leader() is False


def _store_lease() -> Any:
    return MemoryLeaseStore(clock=FakeClock()).lease()


# (what is built, the argument it is refused for)
REFUSED: list[tuple[Callable[[], object], str]] = [
    (lambda: seawall.downstream_timeout(NAN), "cap"),
    (lambda: seawall.downstream_timeout(-1), "cap"),
    (lambda: seawall.downstream_timeout(True), "cap"),
    (lambda: seawall.downstream_timeout("1"), "cap"),  # type: ignore[arg-type]
    (lambda: seawall.downstream_timeout(1.0, reserve_ratio=NAN), "reserve_ratio"),
    (lambda: seawall.Timeout("5"), "Timeout seconds"),  # type: ignore[arg-type]
    (lambda: seawall.Timeout(True), "Timeout seconds"),
    (lambda: seawall.Timeout(NAN), "Timeout seconds"),
    (lambda: seawall.Timeout(-1), "Timeout seconds"),
    (lambda: seawall.Timeout(0), "Timeout seconds"),
    (lambda: seawall.deadline("2"), "deadline seconds"),  # type: ignore[arg-type]
    (lambda: seawall.deadline(NAN), "deadline seconds"),
    (lambda: seawall.deadline(False), "deadline seconds"),
    (lambda: seawall.Backoff.exponential(multiplier=NAN), "multiplier"),
    (lambda: seawall.Backoff.exponential(initial=INF), "initial"),
    (lambda: seawall.Backoff.exponential(jitter=True), "jitter"),
    (lambda: seawall.Backoff.constant(NAN), "delay"),
    (lambda: seawall.Backoff.full_jitter(base="1"), "base"),  # type: ignore[arg-type]
    (lambda: seawall.Backoff.decorrelated(maximum=-1), "maximum"),
    (lambda: seawall.standard("dep", timeout=5, total_timeout=1), "total_timeout"),
    (lambda: seawall.standard("dep", timeout=INF), "total_timeout"),
    (lambda: seawall.standard("dep", timeout=20), "total_timeout"),
    (lambda: seawall.standard("dep", total_timeout=NAN), "total_timeout"),
    (lambda: seawall.standard("dep", retry_budget=True), "retry_budget"),  # type: ignore[arg-type]
    (lambda: seawall.standard("dep", fallback=[]), "fallback"),  # type: ignore[arg-type]
    (lambda: seawall.Retry(True), "attempts"),
    (lambda: seawall.Retry(3.0), "attempts"),  # type: ignore[arg-type]
    (lambda: seawall.Retry(timeout="10"), "Retry timeout"),  # type: ignore[arg-type]
    (lambda: seawall.Retry(timeout=0), "Retry timeout"),
    (lambda: seawall.Retry(backoff=1.0), "backoff"),  # type: ignore[arg-type]
    (lambda: seawall.Retry(budget=0.1), "budget"),  # type: ignore[arg-type]
    (lambda: seawall.RetryBudget(window=INF), "window"),
    (lambda: seawall.RetryBudget(min_per_second=NAN), "min_per_second"),
    (lambda: seawall.RetryBudget(buckets=10**9), "buckets"),
    # a window so short its buckets round to zero width (found by the fuzz below)
    (lambda: seawall.RetryBudget(window=5e-324), "window"),
    (lambda: seawall.AdaptiveThrottle(window=1e-300), "window"),
    (lambda: seawall.GradientLimit(window=1e-6), "window"),
    (lambda: seawall.CircuitBreaker(min_calls=True), "min_calls"),
    (lambda: seawall.CircuitBreaker(half_open_calls=2.5), "half_open_calls"),  # type: ignore[arg-type]
    (lambda: seawall.CircuitBreaker(cooldown=INF), "cooldown"),
    (lambda: seawall.CircuitBreaker(window=INF), "window"),
    (lambda: seawall.CircuitBreaker(window=1e9), "window"),
    (lambda: seawall.CircuitBreaker(window=True, window_type="count"), "window"),
    (lambda: seawall.CircuitBreaker(slow_call_duration=-1), "slow_call_duration"),
    (lambda: seawall.CircuitBreaker(failure_rate="0.5"), "failure_rate"),  # type: ignore[arg-type]
    (lambda: seawall.CircuitBreaker(record=1), "record"),  # type: ignore[arg-type]
    (lambda: seawall.Bulkhead(max_concurrent=True), "max_concurrent"),
    (lambda: seawall.Bulkhead(max_concurrent=10**12), "max_concurrent"),
    (lambda: seawall.Bulkhead(max_wait=NAN), "max_wait"),
    (lambda: seawall.Fallback(factory=5), "factory"),  # type: ignore[arg-type]
    (lambda: seawall.LoadShedder(limit=True), "limit"),
    (lambda: seawall.LoadShedder(max_queue=-1), "max_queue"),
    (lambda: seawall.LoadShedder(queue_interval=INF), "queue_interval"),
    (lambda: seawall.LoadShedder(shares={"low": NAN}), "shares"),
    (lambda: seawall.LoadShedder(lifo="false"), "lifo"),  # type: ignore[arg-type]
    (lambda: seawall.FixedLimit(True), "fixed concurrency limit"),
    (lambda: seawall.FixedLimit(2.5), "fixed concurrency limit"),  # type: ignore[arg-type]
    (lambda: seawall.AIMDLimit(initial=True), "initial"),
    (lambda: seawall.AIMDLimit(latency_threshold=INF), "latency_threshold"),
    (lambda: seawall.GradientLimit(window=INF), "window"),
    (lambda: seawall.GradientLimit(min_samples=1.5), "min_samples"),  # type: ignore[arg-type]
    (lambda: seawall.AdaptiveThrottle(window=INF), "window"),
    (lambda: seawall.AdaptiveThrottle(buckets=True), "buckets"),
    (lambda: seawall.AdaptiveThrottle(buckets=20_000), "buckets"),
    (lambda: seawall.RetryBudget(buckets=20_000), "buckets"),
    (lambda: seawall.SingleFlight(key=5), "key"),  # type: ignore[arg-type]
    (lambda: seawall.Cache(ttl="5"), "ttl"),  # type: ignore[arg-type]
    (lambda: seawall.Cache(ttl=INF), "ttl"),
    (lambda: seawall.Cache(5, stale_if_error=INF), "stale_if_error"),
    (lambda: seawall.Cache(5, max_entries=True), "max_entries"),
    (lambda: seawall.Registry(str, idle_timeout=NAN), "idle_timeout"),
    (lambda: seawall.Registry(str, max_keys=1.5), "max_keys"),  # type: ignore[arg-type]
    (lambda: seawall.Registry(5), "factory"),  # type: ignore[arg-type]
    (lambda: seawall.Timeout(1, name=5), "name"),  # type: ignore[arg-type]
    (lambda: seawall.standard(5), "name"),  # type: ignore[arg-type]
    (lambda: seawall.CircuitBreaker(None), "name"),  # type: ignore[arg-type]
    (lambda: seawall.LoadShedder(b"api"), "name"),  # type: ignore[arg-type]
    (lambda: seawall.optional(str, default="", timeout="1"), "timeout"),  # type: ignore[arg-type]
    (lambda: seawall.optional(str, default="", timeout=NAN), "timeout"),
    (lambda: LeaderElector(_store_lease(), lease_duration="15"), "lease_duration"),  # type: ignore[arg-type]
    (lambda: LeaderElector(_store_lease(), retry_period=True), "retry_period"),
    (lambda: LeaderElector(_store_lease(), renew_deadline=INF), "renew_deadline"),
    (lambda: LeaseTiming(True, 0.5, 0.1), "lease_duration"),
    (lambda: LeaseTiming(15.0, 10.0, 2.0, True), "clock_drift_margin"),
    (lambda: LeaseTiming(15.0, 10.0, 2.0, INF), "clock_drift_margin"),
]


@pytest.mark.parametrize(
    ("build", "argument"), REFUSED, ids=[f"{i}-{arg}" for i, (_, arg) in enumerate(REFUSED)]
)
def test_a_bad_number_is_refused_at_construction_naming_the_argument(
    build: Callable[[], object], argument: str
) -> None:
    with pytest.raises(ConfigError, match=argument):
        build()


# -- the rules, one at a time ------------------------------------------------------------


@pytest.mark.parametrize("value", [NAN, -1, -0.001, True, False, "5", "2", None, 1e10, -INF])
def test_seconds_refuses_what_is_not_a_duration(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"^my_timeout must be .*got "):
        seconds(value, "my_timeout")


def test_seconds_takes_numbers_timedeltas_and_infinity() -> None:
    assert seconds(2, "t") == 2.0
    assert seconds(timedelta(milliseconds=250), "t") == 0.25
    assert seconds(INF, "t") == INF
    assert seconds(0, "t") == 0.0
    with pytest.raises(ConfigError, match="positive"):
        seconds(0, "t", positive=True)
    with pytest.raises(ConfigError, match="up to 1e"):
        seconds(INF, "t", infinite=False)
    assert optional_seconds(INF, "t") is None
    assert optional_seconds(None, "t") is None


@pytest.mark.parametrize("value", [True, 1.0, 2.5, "3", NAN, 0, -5, None])
def test_count_refuses_what_is_not_a_positive_integer(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"^attempts must be an integer"):
        count(value, "attempts")


def test_count_holds_a_size_allocated_up_front_to_its_maximum() -> None:
    assert count(7, "n") == 7
    with pytest.raises(ConfigError, match=r"1\.\.10"):
        count(11, "n", maximum=10)


@pytest.mark.parametrize("value", [NAN, INF, -INF, True, "0.5", None, 0.0, 1.5])
def test_real_refuses_what_is_outside_its_interval(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"^failure_rate must be a number within \(0, 1\]"):
        real(value, "failure_rate", low=0.0, high=1.0, low_open=True)
