"""Retry policies on a fake clock: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from shifter import retry
from shifter.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    KubeError,
    KubeUnavailable,
    NotFound,
    PrometheusUnavailable,
)


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(outcomes: Iterable[BaseException | str]) -> tuple[Callable[[], str], list[float]]:
    """A callable raising or returning the next outcome; records the clock at each call."""
    pending = list(outcomes)
    calls: list[float] = []

    def fn() -> str:
        calls.append(0.0)
        item = pending.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    return fn, calls


def server_error(status: int = 503) -> KubeError:
    return KubeError(f"patch x: HTTP {status}", status=status)


def throttled(after: str | None) -> KubeError:
    err = KubeError("patch x: too many requests", status=429)
    if after is not None:
        err.retry_after = after  # type: ignore[attr-defined]
    return err


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_conflict_then_success_calls_again_with_short_backoff(clock: FakeClock) -> None:
    fn, calls = scripted([Conflict("409", status=409), Conflict("409", status=409), "ok"])
    assert retry.kube(fn, what="ingress/shop", clock=clock, sleep=clock.sleep) == "ok"
    assert len(calls) == 3
    assert len(clock.sleeps) == 2 and all(s <= 0.5 for s in clock.sleeps)


def test_conflicts_give_up_after_ten_with_the_conflict(clock: FakeClock) -> None:
    fn, calls = scripted([Conflict(f"409 #{i}", status=409) for i in range(20)])
    with pytest.raises(Conflict, match="409 #9"):
        retry.kube(fn, what="ingress/shop", clock=clock, sleep=clock.sleep)
    assert len(calls) == retry.MAX_CONFLICTS


def test_429_waits_its_retry_after(clock: FakeClock) -> None:
    fn, calls = scripted([throttled("3"), "ok"])
    assert retry.kube(fn, what="x", clock=clock, sleep=clock.sleep) == "ok"
    assert clock.sleeps == [3.0]


def test_429_retry_after_is_cut_at_the_deadline(clock: FakeClock) -> None:
    fn, calls = scripted([throttled("50"), throttled("50"), "never"])
    with pytest.raises(KubeUnavailable, match="kept failing") as info:
        retry.kube(fn, what="x", deadline=5.0, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == [5.0]
    assert len(calls) == 2
    assert info.value.exit_code == 5
    assert isinstance(info.value.__cause__, KubeError)


def test_429_without_retry_after_backs_off(clock: FakeClock) -> None:
    fn, _ = scripted([throttled(None), throttled("not-a-number"), "ok"])
    assert retry.kube(fn, what="x", clock=clock, sleep=clock.sleep) == "ok"
    assert len(clock.sleeps) == 2 and all(0 < s <= 5.0 for s in clock.sleeps)


@pytest.mark.parametrize("exc", [server_error(500), server_error(503), server_error(504),
                                 KubeUnavailable("cannot reach the API")])
def test_server_errors_until_deadline_raise_kube_unavailable(clock: FakeClock,
                                                             exc: Exception) -> None:
    fn, calls = scripted([exc] * 1000)
    with pytest.raises(KubeUnavailable) as info:
        retry.kube(fn, what="ingress/shop", deadline=30.0, clock=clock, sleep=clock.sleep)
    assert info.value.exit_code == 5
    assert clock.now - 1000.0 == pytest.approx(30.0)  # waited up to the deadline, not past
    assert 5 <= len(calls) < 100  # exponential, not a busy loop
    growing = clock.sleeps[:4]
    assert growing == sorted(growing)


def test_server_error_then_success(clock: FakeClock) -> None:
    fn, calls = scripted([server_error(502), KubeUnavailable("refused"), "ok"])
    assert retry.kube(fn, what="x", clock=clock, sleep=clock.sleep) == "ok"
    assert len(calls) == 3


@pytest.mark.parametrize("exc", [NotFound("nope", status=404), Forbidden("no", status=403),
                                 KubeError("invalid", status=422),
                                 KubeError("bad request", status=400), ValueError("bug")])
def test_other_errors_are_never_retried(clock: FakeClock, exc: Exception) -> None:
    fn, calls = scripted([exc, "ok"])
    with pytest.raises(type(exc)) as info:
        retry.kube(fn, what="x", clock=clock, sleep=clock.sleep)
    assert info.value is exc
    assert len(calls) == 1 and clock.sleeps == []


def test_failed_json_patch_test_is_retried_when_asked(clock: FakeClock) -> None:
    fn, calls = scripted([KubeError("test op failed", status=422), "ok"])
    assert retry.kube(fn, what="x", retry_on_invalid=True, clock=clock,
                      sleep=clock.sleep) == "ok"
    assert len(calls) == 2


def test_prometheus_retries_unavailable_until_deadline(clock: FakeClock) -> None:
    fn, calls = scripted([PrometheusUnavailable("refused")] * 1000)
    with pytest.raises(PrometheusUnavailable):
        retry.prometheus(fn, what="error-rate", deadline=10.0, clock=clock, sleep=clock.sleep)
    assert clock.now - 1000.0 == pytest.approx(10.0)
    assert len(calls) > 2


def test_prometheus_recovers_and_never_retries_a_bad_query(clock: FakeClock) -> None:
    fn, _ = scripted([PrometheusUnavailable("refused"), "ok"])
    assert retry.prometheus(fn, what="q", clock=clock, sleep=clock.sleep) == "ok"
    bad, calls = scripted([InvalidInput("parse error"), "ok"])
    with pytest.raises(InvalidInput):
        retry.prometheus(bad, what="q", clock=clock, sleep=clock.sleep)
    assert len(calls) == 1


def test_revert_keeps_trying_and_reports_every_failed_attempt(clock: FakeClock) -> None:
    failures: list[Exception] = [server_error(500), Conflict("409", status=409),
                                 KubeError("invalid", status=422), throttled("30"),
                                 KubeUnavailable("refused")]
    fn, calls = scripted([*failures, "reverted"])
    reported: list[tuple[int, Exception]] = []
    result = retry.revert(fn, what="ingress/shop-canary", clock=clock, sleep=clock.sleep,
                          on_attempt_failed=lambda n, e: reported.append((n, e)))
    assert result == "reverted"
    assert reported == list(enumerate(failures, start=1))
    assert clock.sleeps[0] <= 0.1  # the first retry comes fast
    assert max(clock.sleeps) <= retry.REVERT_MAX_RETRY_AFTER  # a 429 does not stall a revert


def test_revert_gives_up_at_its_deadline_loudly(clock: FakeClock) -> None:
    fn, calls = scripted([KubeUnavailable("refused")] * 10_000)
    reported: list[int] = []
    with pytest.raises(retry.RevertFailed, match="may still be on the new colour") as info:
        retry.revert(fn, what="ingress/shop-canary", deadline=60.0, clock=clock,
                     sleep=clock.sleep, on_attempt_failed=lambda n, e: reported.append(n))
    assert clock.now - 1000.0 == pytest.approx(60.0)
    assert reported == list(range(1, len(calls) + 1))
    assert len(calls) > 30  # capped at 2 s between tries
    assert all(s <= 2.0 + 1e-9 for s in clock.sleeps)
    assert info.value.exit_code == 1
    assert "ingress/shop-canary" in str(info.value)


@pytest.mark.parametrize("exc", [NotFound("gone", status=404), Forbidden("rbac", status=403)])
def test_revert_does_not_retry_what_cannot_heal(clock: FakeClock, exc: Exception) -> None:
    fn, calls = scripted([exc, "ok"])
    with pytest.raises(retry.RevertFailed, match="cannot heal") as info:
        retry.revert(fn, what="x", clock=clock, sleep=clock.sleep)
    assert info.value.__cause__ is exc
    assert len(calls) == 1


def test_revert_survives_a_broken_reporter(clock: FakeClock) -> None:
    fn, _ = scripted([server_error(), "ok"])

    def broken(_n: int, _e: Exception) -> None:
        raise RuntimeError("logger down")

    assert retry.revert(fn, what="x", clock=clock, sleep=clock.sleep,
                        on_attempt_failed=broken) == "ok"


def test_retry_after_parsing() -> None:
    assert retry.retry_after_seconds(throttled("2")) == 2.0
    assert retry.retry_after_seconds(throttled("-1")) == 0.0
    assert retry.retry_after_seconds(throttled("Wed, 21 Oct 2015 07:28:00 GMT")) is None
    assert retry.retry_after_seconds(throttled(None)) is None
