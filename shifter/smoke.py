"""HTTP smoke checks against the new colour before any traffic moves (httpx).

A ``SmokeCheck`` is a URL template (``{service}``, ``{namespace}``, ``{colour}``), the
status it must answer, a per-request timeout and a number of retries. ``run_smoke_checks``
runs them all and returns one ``SmokeResult`` each, never raising for a failing check;
``raise_if_failed`` turns the first failure into ``SmokeCheckFailed`` (exit 3: nothing was
changed). URLs in results and messages have their credentials and query values masked.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt, wait_fixed

from shifter.errors import ConfigError, RolledBack
from shifter.redact import redact_text, redact_value, strip_url_credentials, url_secrets

DEFAULT_URL = "http://{service}.{namespace}.svc.cluster.local/healthz"
RETRY_DELAY = 0.5  # seconds between two attempts of one check
PLACEHOLDERS = ("service", "namespace", "colour", "color")
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class SmokeCheckFailed(RolledBack):
    """A smoke check failed before any traffic moved; nothing was changed (exit 3)."""


@dataclass(frozen=True)
class SmokeCheck:
    """One HTTP check: ``url`` may use ``{service}``, ``{namespace}`` and ``{colour}``."""

    url: str = DEFAULT_URL
    expect_status: int = 200
    timeout: float = 5.0
    retries: int = 2
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict, hash=False, repr=False)
    name: str = ""

    def __post_init__(self) -> None:
        where = f"smoke[{self.name}]" if self.name else "smoke"
        _check_template(self.url, f"{where}.url")
        if not 100 <= self.expect_status <= 599:
            raise ConfigError(f"{where}.expect_status",
                              f"expected an HTTP status 100..599, got {self.expect_status}")
        if not self.timeout > 0:
            raise ConfigError(f"{where}.timeout", f"expected seconds > 0, got {self.timeout}")
        if self.retries < 0:
            raise ConfigError(f"{where}.retries", f"expected 0 or more, got {self.retries}")
        if self.method.upper() not in METHODS:
            raise ConfigError(f"{where}.method", f"expected one of {', '.join(sorted(METHODS))}"
                                                 f", got {self.method!r}")

    @property
    def label(self) -> str:
        """The name, or ``METHOD path`` when it has none; safe to show (a URL in the name
        loses its credentials and query values, known secrets are masked)."""
        if self.name:
            named = _URL_IN_TEXT.sub(lambda m: strip_url_credentials(m.group(0)), self.name)
            return redact_text(named, self.secrets())
        try:
            path = urlsplit(self.url).path or "/"
        except ValueError:
            path = "?"
        return redact_text(f"{self.method.upper()} {path}", self.secrets())

    def secrets(self, url: str | None = None) -> list[str]:
        """What must never be shown: the URL's password and query values, the values of
        secret-named headers."""
        out = [s for s in url_secrets(url or self.url) if s not in (url or self.url, "/")]
        out = [s for s in out if not s.startswith("/")]  # the path itself is shown
        out += [v for k, v in self.headers.items() if redact_value(k, v, ()) != v]
        return out

    def render(self, *, service: str, namespace: str, colour: str) -> str:
        """The URL with its placeholders filled in."""
        values = {"service": service, "namespace": namespace, "colour": colour, "color": colour}
        return self.url.format_map(values)


def check_url_template(url: str) -> None:
    """Raise ``ValueError`` unless ``url`` is an http(s) URL using only known placeholders.
    The message never shows the URL's credentials or query values."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(url) if f is not None]
    except ValueError as exc:
        raise ValueError(f"bad URL template ({exc}); use {{service}}, {{namespace}} "
                         "or {colour}") from None
    unknown = sorted({n for n in names if n not in PLACEHOLDERS})
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0][:40]}}}; expected {{service}}, "
                         "{namespace} or {colour}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"expected an http(s) URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got "
                         f"{strip_url_credentials(url)!r}")


def _check_template(url: str, where: str) -> None:
    try:
        check_url_template(url)
    except ValueError as exc:
        raise ConfigError(where, str(exc)) from None


@dataclass(frozen=True)
class SmokeResult:
    """What one check saw on its last attempt; ``url`` is safe to show."""

    name: str
    url: str
    status: int | None
    ok: bool
    elapsed: float  # seconds, all attempts
    error: str | None
    attempts: int = 1


@dataclass(frozen=True)
class _Attempt:
    status: int | None
    error: str | None
    ok: bool


def _attempt(client: httpx.Client, check: SmokeCheck, url: str) -> _Attempt:
    secrets = [url, *url_secrets(url), *check.secrets(url)]
    try:
        resp = client.request(check.method.upper(), url, headers=dict(check.headers),
                              timeout=check.timeout, follow_redirects=False)
    except httpx.TimeoutException:
        return _Attempt(None, f"timed out after {check.timeout:g}s", False)
    except httpx.ConnectError as exc:
        return _Attempt(None, f"cannot connect: {redact_text(str(exc), secrets)}", False)
    except httpx.HTTPError as exc:
        text = redact_text(str(exc), secrets) or type(exc).__name__
        return _Attempt(None, f"{type(exc).__name__}: {text}", False)
    if resp.status_code == check.expect_status:
        return _Attempt(resp.status_code, None, True)
    return _Attempt(resp.status_code,
                    f"expected HTTP {check.expect_status}, got {resp.status_code}", False)


def _run_one(client: httpx.Client, check: SmokeCheck, url: str,
             sleep: Callable[[float], None]) -> SmokeResult:
    started = time.monotonic()
    retrying = Retrying(
        stop=stop_after_attempt(check.retries + 1), wait=wait_fixed(RETRY_DELAY), sleep=sleep,
        retry=retry_if_result(lambda a: not a.ok),
        retry_error_callback=lambda state: _last_result(state),
    )
    last: _Attempt = retrying(_attempt, client, check, url)
    attempts = int(retrying.statistics.get("attempt_number", 1))
    return SmokeResult(name=check.label, url=strip_url_credentials(url), status=last.status,
                       ok=last.ok, elapsed=time.monotonic() - started, error=last.error,
                       attempts=attempts)


def _last_result(state: RetryCallState) -> _Attempt:
    assert state.outcome is not None
    result: _Attempt = state.outcome.result()
    return result


def run_smoke_checks(checks: Iterable[SmokeCheck], *, service: str, namespace: str,
                     colour: str, client: httpx.Client | None = None,
                     sleep: Callable[[float], None] = time.sleep) -> list[SmokeResult]:
    """Run every check in order against the new colour; a failure is a result, not an error.

    ``service`` is the new colour's Service (``shop-green``). Without ``client`` one is
    created and closed here.
    """
    own = client is None
    http = client if client is not None else httpx.Client()
    try:
        return [_run_one(http, c, c.render(service=service, namespace=namespace,
                                           colour=colour), sleep) for c in checks]
    finally:
        if own:
            http.close()


def raise_if_failed(results: Sequence[SmokeResult]) -> None:
    """Raise ``SmokeCheckFailed`` naming the first failing check, its status or error."""
    failed = [r for r in results if not r.ok]
    if not failed:
        return
    first = failed[0]
    more = f" (and {len(failed) - 1} more failing)" if len(failed) > 1 else ""
    raise SmokeCheckFailed(
        f"smoke check {first.name!r} failed: {first.error} at {first.url} after "
        f"{first.attempts} attempt(s){more}; no traffic was moved")
