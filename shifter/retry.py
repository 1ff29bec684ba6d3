"""Every retry policy of shifter, in one place (tenacity).

    kube(fn, what=...)        409 again at once (short backoff, <= 10 conflicts), 429 after
                              its Retry-After, 5xx/connection errors with exponential backoff
                              and jitter, all within a deadline; 404/403/other 4xx never.
                              Gives up with the Conflict, or ``KubeUnavailable`` (exit 5).
    prometheus(fn, what=...)  ``PrometheusUnavailable`` with backoff within a deadline;
                              never a bad query (``InvalidInput``).
    revert(fn, what=...)      any ``KubeError``/``KubeUnavailable`` except 403/404, fast
                              backoff (first retry within 100 ms, capped at 2 s) until its own
                              deadline; every failed attempt is reported; gives up with
                              ``RevertFailed``.

``fn`` takes no arguments and does the whole read-modify-write, so calling it again after a
409 re-reads the object and re-applies only shifter's own fields. ``clock`` and ``sleep``
are injectable so tests run on a fake clock; the deadline is measured with ``clock``.
A wait (a 429's Retry-After included) is cut short at the deadline, where one last try is
made; then the last error is raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from shifter.errors import (
    Conflict,
    Forbidden,
    KubeError,
    KubeUnavailable,
    NotFound,
    PrometheusUnavailable,
    ShifterError,
)

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], None]

log = structlog.get_logger("shifter.retry")

MAX_CONFLICTS = 10
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


def _backoff(first: float, cap: float, jitter: float) -> wait_base:
    """Exponential from ``first`` doubling up to ``cap`` (jitter included)."""
    return wait_exponential(multiplier=first, max=cap - jitter) + wait_random(0, jitter)


# Waits, in seconds: tenacity strategies, picked per error by each policy's wait.
_CONFLICT_WAIT = _backoff(first=0.02, cap=0.5, jitter=0.02)
_SERVER_WAIT = _backoff(first=0.2, cap=5.0, jitter=0.2)
_PROMETHEUS_WAIT = _backoff(first=0.2, cap=2.0, jitter=0.1)
_REVERT_WAIT = _backoff(first=0.05, cap=2.0, jitter=0.05)
REVERT_MAX_RETRY_AFTER = 2.0  # a revert does not wait longer than this for a 429


class RevertFailed(ShifterError):
    """A revert could not be completed; traffic may still be on the new colour."""

    exit_code = 1


def retry_after_seconds(exc: BaseException) -> float | None:
    """The ``Retry-After`` of a 429 in seconds, or ``None`` (absent or an HTTP date)."""
    raw = getattr(exc, "retry_after", None)
    if raw is None:
        return None
    try:
        value = float(str(raw).strip())
    except ValueError:
        return None
    return max(0.0, value) if value == value else None  # NaN -> None


def _is_server_error(exc: BaseException) -> bool:
    if isinstance(exc, KubeUnavailable):
        return True
    return isinstance(exc, KubeError) and (exc.status in RETRYABLE_STATUS or exc.status == 0)


def _is_throttled(exc: BaseException) -> bool:
    return isinstance(exc, KubeError) and exc.status == 429


def _is_failed_test(exc: BaseException) -> bool:
    """A 422 from a JSON patch whose ``test`` op failed: the object changed since read."""
    return type(exc) is KubeError and exc.status == 422


@dataclass
class _Policy:
    """One call's retry decisions; ``retry``, ``wait`` and ``stop`` are tenacity callables."""

    what: str
    deadline: float
    clock: Clock
    retryable: Callable[[BaseException], bool]
    wait_for: Callable[[BaseException, RetryCallState], float]
    max_conflicts: int = MAX_CONFLICTS
    started: float = 0.0
    conflicts: int = 0

    def __post_init__(self) -> None:
        self.started = self.clock()

    def remaining(self) -> float:
        return self.started + self.deadline - self.clock()

    def retry(self, exc: BaseException) -> bool:
        if not self.retryable(exc):
            return False
        if isinstance(exc, Conflict) or _is_failed_test(exc):
            self.conflicts += 1
        return True

    def wait(self, state: RetryCallState) -> float:
        exc = _exception(state)
        return self.wait_for(exc, state)

    def stop(self, state: RetryCallState) -> bool:
        if self.conflicts >= self.max_conflicts:
            return True
        now, end = self.clock(), self.started + self.deadline
        return now >= end or now + state.upcoming_sleep > end

    def before_sleep(self, state: RetryCallState) -> None:
        log.info("retrying", what=self.what, attempt=state.attempt_number,
                 wait_s=round(state.upcoming_sleep, 3), error=str(_exception(state)))

    def elapsed(self) -> float:
        return self.clock() - self.started


def _exception(state: RetryCallState) -> BaseException:
    assert state.outcome is not None
    exc = state.outcome.exception()
    assert exc is not None
    return exc


def _run(fn: Callable[[], T], policy: _Policy, sleep: Sleep,
         give_up: Callable[[BaseException, int], BaseException]) -> T:
    def on_give_up(state: RetryCallState) -> T:
        last = _exception(state)
        err = give_up(last, state.attempt_number)
        if err is last:
            raise last
        raise err from last

    retrying = Retrying(
        sleep=sleep, stop=policy.stop, wait=policy.wait,
        retry=retry_if_exception(policy.retry), before_sleep=policy.before_sleep,
        retry_error_callback=on_give_up, reraise=True,
    )
    return retrying(fn)


def _kube_wait(exc: BaseException, state: RetryCallState) -> float:
    if isinstance(exc, Conflict) or _is_failed_test(exc):
        return float(_CONFLICT_WAIT(state))
    if _is_throttled(exc):
        after = retry_after_seconds(exc)
        return after if after is not None else float(_SERVER_WAIT(state))
    return float(_SERVER_WAIT(state))


def kube(fn: Callable[[], T], *, what: str, deadline: float = 30.0,
         retry_on_invalid: bool = False, clock: Clock = time.monotonic,
         sleep: Sleep = time.sleep) -> T:
    """Call ``fn`` (one Kubernetes read-modify-write) under the Kubernetes policy.

    ``retry_on_invalid=True`` for test-guarded JSON patches: a 422 then means the object
    changed since it was read, and ``fn`` re-reads, like after a 409.
    """

    def retryable(exc: BaseException) -> bool:
        if isinstance(exc, Conflict) or _is_throttled(exc) or _is_server_error(exc):
            return True
        return retry_on_invalid and _is_failed_test(exc)

    policy = _Policy(what, deadline, clock, retryable, lambda e, s: _capped(e, s, policy))

    def give_up(exc: BaseException, attempts: int) -> BaseException:
        if isinstance(exc, Conflict | KubeUnavailable) or _is_failed_test(exc):
            return exc
        return KubeUnavailable(
            f"{what}: the Kubernetes API kept failing for {policy.elapsed():.1f}s "
            f"({attempts} attempts, deadline {deadline:g}s); last error: {exc}")

    return _run(fn, policy, sleep, give_up)


def _capped(exc: BaseException, state: RetryCallState, policy: _Policy) -> float:
    """No wait (a Retry-After included) runs past the deadline: one last try at it."""
    return max(0.0, min(_kube_wait(exc, state), policy.remaining()))


def prometheus(fn: Callable[[], T], *, what: str, deadline: float = 10.0,
               clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> T:
    """Call ``fn`` (one Prometheus query) retrying ``PrometheusUnavailable`` until the
    deadline; a bad query (``InvalidInput``) or anything else is raised at once."""

    def retryable(exc: BaseException) -> bool:
        return isinstance(exc, PrometheusUnavailable)

    policy = _Policy(what, deadline, clock, retryable,
                     lambda e, s: max(0.0, min(float(_PROMETHEUS_WAIT(s)), policy.remaining())))
    return _run(fn, policy, sleep, lambda exc, _attempts: exc)


def revert(fn: Callable[[], T], *, what: str, deadline: float = 60.0,
           on_attempt_failed: Callable[[int, Exception], None] | None = None,
           clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> T:
    """Call ``fn`` (the revert) until it succeeds or ``deadline`` passes.

    Every Kubernetes error is retried except 403 and 404, which cannot heal; each failed
    attempt is passed to ``on_attempt_failed(attempt, error)``. Gives up with
    ``RevertFailed``, whose message says traffic may still be on the new colour.
    """
    attempt = 0

    def attempt_once() -> T:
        nonlocal attempt
        attempt += 1
        try:
            return fn()
        except (KubeError, KubeUnavailable) as exc:
            _report(on_attempt_failed, attempt, exc, what)
            raise

    def retryable(exc: BaseException) -> bool:
        if isinstance(exc, NotFound | Forbidden):
            return False
        return isinstance(exc, KubeError | KubeUnavailable)

    def wait(exc: BaseException, state: RetryCallState) -> float:
        base = float(_REVERT_WAIT(state))
        after = retry_after_seconds(exc) if _is_throttled(exc) else None
        if after is not None:
            base = max(base, min(after, REVERT_MAX_RETRY_AFTER))
        return max(0.0, min(base, policy.remaining()))

    policy = _Policy(what, deadline, clock, retryable, wait, max_conflicts=1_000_000)

    def give_up(exc: BaseException, attempts: int) -> BaseException:
        why = (f"gave up after {policy.elapsed():.1f}s and {attempts} attempts"
               if retryable(exc) else "this error cannot heal by retrying")
        return RevertFailed(
            f"revert of {what} FAILED ({why}): {exc}. Traffic may still be on the new colour: "
            f"set its weight to 0 by hand (kubectl edit the router object) or run "
            f"`shifter abort` again once the API server is reachable")

    try:
        return _run(attempt_once, policy, sleep, give_up)
    except (NotFound, Forbidden) as exc:
        raise give_up(exc, attempt) from exc


def _report(callback: Callable[[int, Exception], None] | None, attempt: int, exc: Exception,
            what: str) -> None:
    log.error("revert attempt failed", what=what, attempt=attempt, error=str(exc))
    if callback is None:
        return
    try:
        callback(attempt, exc)
    except Exception as cb_exc:  # a broken reporter must never stop a revert
        log.error("revert attempt reporter failed", what=what, error=repr(cb_exc))


__all__ = ["RevertFailed", "kube", "prometheus", "retry_after_seconds", "revert"]
