"""Webhook notifications on rollout events, never in the rollout's way (httpx).

``Notifier.notify`` only serialises the event and puts it on a bounded queue per webhook;
one worker thread per webhook posts them in order, each with a short timeout and one retry
(tenacity). A full queue drops the event and counts it; a failing or hanging receiver is
logged and never raises into, slows or fails the rollout. ``close`` flushes what it can
within its timeout.

A webhook URL is a secret (a Slack incoming-webhook URL carries its token in the path): it
is never logged or printed; logs show ``redact.redact_url(url)``.

Formats: ``json`` posts ``{"event", "release", "namespace", "time", **payload}``;
``slack`` posts an incoming-webhook message ``{"text": fallback, "blocks": [...]}``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import structlog
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

from shifter.errors import ConfigError
from shifter.redact import redact_headers, redact_text, redact_url, register, scrub, url_secrets

EVENTS = frozenset({"started", "step", "reverted", "promoted", "aborted", "failed",
                    "awaiting_approval"})
FORMATS = ("slack", "json")
QUEUE_SIZE = 100
RETRY_DELAY = 0.5

log = structlog.get_logger("shifter.notify")


@dataclass(frozen=True)
class Webhook:
    """Where to post which events; ``events=None`` means all of them."""

    url: str
    format: Literal["slack", "json"] = "json"
    events: frozenset[str] | None = None
    timeout: float = 3.0
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        register(self.url, *(v for k, v in self.headers.items()  # never shown from now on
                             if redact_headers({k: v})[k] != v))
        where = "notifications.webhooks"
        try:
            ok = httpx.URL(self.url).scheme in ("http", "https") and bool(httpx.URL(self.url).host)
        except (httpx.InvalidURL, TypeError):
            ok = False
        if not ok:
            raise ConfigError(f"{where}.url",
                              f"expected an http:// or https:// URL, got {redact_url(self.url)}")
        if self.format not in FORMATS:
            raise ConfigError(f"{where}.format",
                              f"expected 'slack' or 'json', got {self.format!r}")
        unknown = sorted((self.events or frozenset()) - EVENTS)
        if unknown:
            raise ConfigError(f"{where}.events", f"unknown event {unknown[0]!r}; expected any "
                                                 f"of {', '.join(sorted(EVENTS))}")
        if not self.timeout > 0:
            raise ConfigError(f"{where}.timeout", f"expected seconds > 0, got {self.timeout}")

    def __repr__(self) -> str:
        events = sorted(self.events) if self.events is not None else "all"
        return (f"Webhook(url={self.safe_url!r}, format={self.format!r}, events={events}, "
                f"timeout={self.timeout}, headers={redact_headers(self.headers)})")

    @property
    def safe_url(self) -> str:
        """The URL as it may be shown: scheme and host only."""
        return redact_url(self.url)

    def wants(self, event: str) -> bool:
        return self.events is None or event in self.events


# -- message bodies ------------------------------------------------------------------------

_EMOJI = {"started": ":rocket:", "step": ":arrow_forward:", "reverted": ":rewind:",
          "promoted": ":white_check_mark:", "aborted": ":octagonal_sign:", "failed": ":x:",
          "awaiting_approval": ":raised_hand:"}


def json_body(event: str, *, release: str, namespace: str, time: str,
              payload: Mapping[str, Any]) -> dict[str, Any]:
    """The generic JSON body: the four fixed keys first, then the payload (never over them)."""
    body: dict[str, Any] = {"event": event, "release": release, "namespace": namespace,
                            "time": time}
    body.update((k, v) for k, v in payload.items() if k not in body)
    return body


def _escape(text: str) -> str:
    """Slack treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def headline(event: str, payload: Mapping[str, Any]) -> str:
    """One human line for an event, from the payload keys that are present."""
    words = {"started": "rollout started", "step": "step", "reverted": "REVERTED",
             "promoted": "promoted", "aborted": "aborted", "failed": "FAILED",
             "awaiting_approval": "AWAITING APPROVAL"}[event]
    if "step" in payload and event == "step":
        words += f" {payload['step']}"
    if "weight" in payload:
        words += f": weight {payload['weight']}%"
    if "colour" in payload:
        words += f" on {payload['colour']}"
    if "reason" in payload:
        words += f" ({payload['reason']})"
    if "command" in payload:
        words += f": run `{payload['command']}`"
    return words


def slack_body(event: str, *, release: str, namespace: str, time: str,
               payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` is the notification fallback, ``blocks``
    the layout (a section, up to 10 fields, a context line)."""
    line = _escape(headline(event, payload))
    text = f"{_EMOJI[event]} shifter: {_escape(release)} in {_escape(namespace)}: {line}"
    blocks: list[dict[str, Any]] = [{
        "type": "section",
        "text": {"type": "mrkdwn",
                 "text": f"{_EMOJI[event]} *{_escape(release)}* in `{_escape(namespace)}`: "
                         f"{line}"[:3000]},
    }]
    fields = [{"type": "mrkdwn", "text": f"*{_escape(str(k))}*\n{_escape(_short(v))}"}
              for k, v in list(payload.items())[:10]]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"shifter · event `{event}` · {time}"}]})
    return {"text": text, "blocks": blocks}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


# -- delivery ------------------------------------------------------------------------------


class _BadStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, _BadStatus):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, httpx.TransportError)


@dataclass(frozen=True)
class _Item:
    event: str
    body: bytes


_STOP = object()


class _Channel:
    """One webhook's queue and worker thread."""

    def __init__(self, webhook: Webhook, owner: Notifier, index: int) -> None:
        self.webhook = webhook
        self.owner = owner
        self.queue: queue.Queue[object] = queue.Queue()
        self.abandon = threading.Event()
        self.thread = threading.Thread(target=self._work, name=f"shifter-notify-{index}",
                                       daemon=True)
        self.secrets = url_secrets(webhook.url)

    def offer(self, item: _Item) -> bool:
        if self.queue.qsize() >= self.owner.queue_size:
            return False
        self.queue.put(item)
        return True

    def _work(self) -> None:
        try:
            while True:
                item = self.queue.get()
                if item is _STOP:
                    return
                assert isinstance(item, _Item)
                if self.abandon.is_set():
                    self.owner._count("dropped")
                    continue
                self._deliver(item)
        finally:
            self.owner._worker_done()

    def _pause(self, seconds: float) -> None:
        self.abandon.wait(seconds)  # cut short when close() gives up

    def _post(self, item: _Item) -> None:
        headers = {"Content-Type": "application/json", **self.webhook.headers}
        resp = self.owner.client.post(self.webhook.url, content=item.body, headers=headers,
                                      timeout=self.webhook.timeout)
        if not 200 <= resp.status_code <= 299:
            raise _BadStatus(resp.status_code)

    def _deliver(self, item: _Item) -> None:
        retrying = Retrying(stop=stop_after_attempt(2), wait=wait_fixed(self.owner.retry_delay),
                            retry=retry_if_exception(_transient), reraise=True,
                            sleep=self._pause)
        try:
            retrying(self._post, item)
        except Exception as exc:
            self.owner._count("failed")
            attempts = retrying.statistics.get("attempt_number", 1)
            log.warning("webhook delivery failed", webhook=self.webhook.safe_url,
                        rollout_event=item.event, attempts=attempts, error=self._why(exc))
        else:
            self.owner._count("delivered")
            log.debug("webhook delivered", webhook=self.webhook.safe_url,
                      rollout_event=item.event)

    def _why(self, exc: Exception) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return f"timed out after {self.webhook.timeout:g}s"
        text = redact_text(str(exc), self.secrets)
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Notifier:
    """Posts rollout events to webhooks in the background; see the module docstring."""

    def __init__(self, webhooks: Iterable[Webhook], *, release: str, namespace: str,
                 client: httpx.Client | None = None, queue_size: int = QUEUE_SIZE,
                 retry_delay: float = RETRY_DELAY) -> None:
        self.release = release
        self.namespace = namespace
        self.queue_size = queue_size
        self.retry_delay = retry_delay
        self._own_client = client is None
        self.client = client if client is not None else httpx.Client()
        self._lock = threading.Lock()
        self._counts = {"delivered": 0, "failed": 0, "dropped": 0}
        self._closed = False
        self._channels = [_Channel(w, self, i) for i, w in enumerate(webhooks)]
        self._live = len(self._channels)
        for channel in self._channels:
            channel.thread.start()
        if not self._channels:
            self._close_client()

    # counters, readable at any time
    @property
    def delivered(self) -> int:
        return self._counts["delivered"]

    @property
    def failed(self) -> int:
        return self._counts["failed"]

    @property
    def dropped(self) -> int:
        return self._counts["dropped"]

    def secrets(self) -> list[str]:
        """The webhook URLs, for ``redact.redact_processor``."""
        return [c.webhook.url for c in self._channels]

    def notify(self, event: str, payload: Mapping[str, Any] | None = None) -> None:
        """Queue ``event`` for every webhook that wants it; returns at once, never raises."""
        try:
            self._notify(event, dict(payload or {}))
        except Exception as exc:  # a notification must never break the rollout
            log.error("notification not sent", rollout_event=event, error=repr(exc))

    def _notify(self, event: str, payload: dict[str, Any]) -> None:
        if self._closed:
            log.debug("notifier closed, event not sent", rollout_event=event)
            return
        if event not in EVENTS:
            log.warning("unknown notification event", rollout_event=event)
            return
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        bodies: dict[str, bytes] = {}
        for channel in self._channels:
            hook = channel.webhook
            if not hook.wants(event):
                continue
            if hook.format not in bodies:
                build = slack_body if hook.format == "slack" else json_body
                data = build(event, release=self.release, namespace=self.namespace, time=now,
                             payload=payload)
                bodies[hook.format] = json.dumps(scrub(data), default=str).encode()
            if not channel.offer(_Item(event, bodies[hook.format])):
                self._count("dropped")
                log.warning("notification queue full, event dropped", webhook=hook.safe_url,
                            rollout_event=event, dropped=self.dropped)

    def close(self, timeout: float = 5.0) -> bool:
        """Deliver what is queued within ``timeout`` seconds, then stop. Returns whether
        every worker finished; events still queued then are dropped (and counted). Calling
        it again waits for the workers again."""
        deadline = time.monotonic() + timeout
        if not self._closed:
            self._closed = True
            for channel in self._channels:
                channel.queue.put(_STOP)
        for channel in self._channels:
            channel.thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [c for c in self._channels if c.thread.is_alive()]
        for channel in stuck:
            channel.abandon.set()
        if stuck:
            log.warning("notifications still pending at close; the rest is dropped",
                        webhooks=[c.webhook.safe_url for c in stuck])
        return not stuck

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _count(self, what: str) -> None:
        with self._lock:
            self._counts[what] += 1

    def _worker_done(self) -> None:
        with self._lock:
            self._live -= 1
            last = self._live == 0
        if last:
            self._close_client()

    def _close_client(self) -> None:
        if self._own_client:
            self.client.close()
