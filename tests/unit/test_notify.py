"""Webhook notifications against a real receiver on 127.0.0.1 (in-process)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from structlog.testing import capture_logs

from shifter.errors import ConfigError
from shifter.notify import EVENTS, Notifier, Webhook, headline, json_body, slack_body

SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxSECRETTOKEN"


class Receiver(ThreadingHTTPServer):
    """Records every POST; answers ``status``; holds answers while ``hold`` is set."""

    daemon_threads = False
    block_on_close = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.status = 200
        self.hold = threading.Event()
        self.released = threading.Event()
        self.answered = threading.Event()
        self.cond = threading.Condition()
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{SECRET_PATH}"

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.bodies) >= count, timeout), (
                f"receiver got {len(self.bodies)} of {count} requests")

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and went away is expected here


class ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        with self.server.cond:
            self.server.bodies.append(body)
            self.server.headers.append(dict(self.headers.items()))
            self.server.cond.notify_all()
        if self.server.hold.is_set():
            self.server.released.wait(5)
        self.send_response(self.server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        self.server.answered.set()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    srv = Receiver()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.released.set()
        srv.shutdown()
        srv.server_close()
        thread.join()


def make(receiver: Receiver, **hook: Any) -> Notifier:
    return Notifier([Webhook(url=receiver.url, **hook)], release="shop", namespace="prod",
                    retry_delay=0.0)


def test_json_events_arrive_in_order(receiver: Receiver) -> None:
    notifier = make(receiver, headers={"Authorization": "Bearer abc"})
    notifier.notify("started", {"from": "blue", "to": "green"})
    for step, weight in enumerate((10, 50, 100), start=1):
        notifier.notify("step", {"step": step, "weight": weight})
    notifier.notify("promoted", {"colour": "green", "event": "not-overridden"})
    assert notifier.close()
    assert [b["event"] for b in receiver.bodies] == ["started", "step", "step", "step",
                                                     "promoted"]
    assert [b.get("weight") for b in receiver.bodies[1:4]] == [10, 50, 100]
    first = receiver.bodies[0]
    assert first["release"] == "shop" and first["namespace"] == "prod"
    assert first["from"] == "blue" and first["time"].endswith("Z")
    assert receiver.headers[0]["Authorization"] == "Bearer abc"
    assert notifier.delivered == 5 and notifier.failed == 0 and notifier.dropped == 0


def test_slack_format(receiver: Receiver) -> None:
    notifier = make(receiver, format="slack")
    notifier.notify("reverted", {"weight": 0, "reason": "error rate 5% > 1% <p<0.01>"})
    assert notifier.close()
    [body] = receiver.bodies
    assert set(body) == {"text", "blocks"}
    assert "REVERTED" in body["text"] and "shop" in body["text"]
    assert "&lt;p&lt;0.01&gt;" in body["text"] and "<p" not in body["text"]
    assert [b["type"] for b in body["blocks"]] == ["section", "section", "context"]
    assert body["blocks"][0]["text"]["type"] == "mrkdwn"
    assert len(body["blocks"][1]["fields"]) == 2


def test_events_filter(receiver: Receiver) -> None:
    notifier = make(receiver, events=frozenset({"reverted", "promoted"}))
    for event in ("started", "step", "reverted", "promoted"):
        notifier.notify(event, {})
    notifier.notify("no-such-event", {})
    assert notifier.close()
    assert [b["event"] for b in receiver.bodies] == ["reverted", "promoted"]


def test_hanging_receiver_does_not_block_notify(receiver: Receiver) -> None:
    receiver.hold.set()
    notifier = make(receiver, timeout=3.0)
    notifier.notify("started", {})
    receiver.wait_for(1)  # the receiver holds the first delivery...
    for step in range(1, 4):
        notifier.notify("step", {"step": step})  # ...and notify() still returns at once
    assert not receiver.answered.is_set()
    receiver.released.set()
    assert notifier.close()
    assert [b.get("step") for b in receiver.bodies] == [None, 1, 2, 3]


def test_failing_receiver_is_logged_with_the_url_redacted(
        receiver: Receiver, capsys: pytest.CaptureFixture[str]) -> None:
    receiver.status = 500
    with capture_logs() as logs:
        notifier = make(receiver)
        notifier.notify("failed", {"reason": "boom"})
        assert notifier.close()
    assert len(receiver.bodies) == 2  # one retry
    assert notifier.failed == 1
    [entry] = [e for e in logs if e["event"] == "webhook delivery failed"]
    assert entry["webhook"] == f"http://127.0.0.1:{receiver.server_address[1]}/***"
    assert entry["error"] == "_BadStatus: HTTP 500" and entry["attempts"] == 2
    out = capsys.readouterr()
    for text in (repr(logs), out.out, out.err, repr(notifier._channels[0].webhook)):
        assert "SECRET" not in text


def test_timeout_is_logged_without_the_url(receiver: Receiver,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    receiver.hold.set()
    with capture_logs() as logs:
        notifier = make(receiver, timeout=0.1)
        notifier.notify("aborted", {})
        assert notifier.close()
    [entry] = [e for e in logs if e["event"] == "webhook delivery failed"]
    assert entry["error"] == "timed out after 0.1s"
    out = capsys.readouterr()
    assert "SECRET" not in repr(logs) + out.out + out.err


def test_full_queue_drops_and_counts(receiver: Receiver) -> None:
    receiver.hold.set()
    notifier = Notifier([Webhook(url=receiver.url)], release="shop", namespace="prod",
                        queue_size=2, retry_delay=0.0)
    with capture_logs():
        notifier.notify("started", {})
        receiver.wait_for(1)  # in flight, the queue is empty again
        for step in range(1, 5):
            notifier.notify("step", {"step": step})
        assert notifier.dropped == 2
        receiver.released.set()
        assert notifier.close()
    assert [b.get("step") for b in receiver.bodies] == [None, 1, 2]


def test_close_gives_up_at_its_timeout(receiver: Receiver) -> None:
    receiver.hold.set()
    with capture_logs() as logs:
        notifier = make(receiver)
        notifier.notify("started", {})
        notifier.notify("step", {"step": 1})
        receiver.wait_for(1)
        assert notifier.close(timeout=0.05) is False
        assert any(e["event"].startswith("notifications still pending") for e in logs)
        notifier.notify("promoted", {})  # after close: ignored, no error
        receiver.released.set()
        assert notifier.close()  # the worker finishes its request and drops the rest
    assert notifier.dropped == 1 and len(receiver.bodies) == 1


def test_notify_never_raises() -> None:
    notifier = Notifier([], release="shop", namespace="prod")
    notifier.notify("step", {"weight": object()})
    notifier.notify("bogus", {})
    assert notifier.close()


def test_url_is_redacted_through_the_processor(receiver: Receiver) -> None:
    from shifter.redact import redact_processor

    notifier = make(receiver)
    process = redact_processor(notifier.secrets)
    event = process(None, "info", {"event": f"posting to {receiver.url}", "x": receiver.url})
    assert "SECRET" not in repr(event)
    assert notifier.close()


def test_json_body_and_headline() -> None:
    body = json_body("step", release="r", namespace="n", time="t",
                     payload={"event": "x", "weight": 10})
    assert list(body) == ["event", "release", "namespace", "time", "weight"]
    assert body["event"] == "step"
    assert headline("step", {"step": 2, "weight": 50, "colour": "green"}) == (
        "step 2: weight 50% on green")
    many = {f"k{i}": i for i in range(15)}
    slack = slack_body("step", release="r", namespace="n", time="t", payload=many)
    assert len(slack["blocks"][1]["fields"]) == 10
    assert set(EVENTS) == {"started", "step", "reverted", "promoted", "aborted",
                           "failed", "awaiting_approval"}


@pytest.mark.parametrize(("kwargs", "field", "expected"), [
    ({"url": "ftp://hooks.example.com/services/SECRET"}, "url", "http:// or https://"),
    ({"url": "not a url SECRET"}, "url", "http:// or https://"),
    ({"format": "teams"}, "format", "'slack' or 'json'"),
    ({"events": frozenset({"stepped"})}, "events", "unknown event 'stepped'"),
    ({"timeout": 0}, "timeout", "> 0"),
])
def test_bad_webhook_is_one_clear_config_error(kwargs: dict[str, Any], field: str,
                                               expected: str) -> None:
    args = {"url": "https://hooks.example.com/services/SECRET", **kwargs}
    with pytest.raises(ConfigError, match=expected) as info:
        Webhook(**args)
    assert info.value.field == f"notifications.webhooks.{field}"
    assert "SECRET" not in str(info.value)



def test_a_secret_in_a_payload_is_not_posted(receiver: Receiver) -> None:
    """The webhook URL and other registered secrets never leave in a body (a reason that
    quotes an error message could carry one)."""
    from shifter import redact

    redact.register("pr0m-password")
    try:
        notifier = make(receiver)
        notifier.notify("failed", {"reason": f"cannot post to {receiver.url}; "
                                             "Prometheus http://u:pr0m-password@prom"})
        assert notifier.close()
    finally:
        redact.forget_all()
    sent = json.dumps(receiver.bodies)
    assert "xoxSECRETTOKEN" not in sent and "pr0m-password" not in sent
    assert "http://***@prom" in sent
