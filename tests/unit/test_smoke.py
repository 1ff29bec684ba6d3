"""Smoke checks against a real HTTP server on 127.0.0.1 (in-process, one thread)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from shifter.errors import ConfigError, RolledBack
from shifter.smoke import (
    SmokeCheck,
    SmokeCheckFailed,
    SmokeResult,
    raise_if_failed,
    run_smoke_checks,
)


class Server(ThreadingHTTPServer):
    """Answers each path with the next status of its script; ``/hang`` waits for release."""

    daemon_threads = False
    block_on_close = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.scripts: dict[str, list[int]] = {}
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.release = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and went away is expected here


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        self.server.seen.append((self.command, self.path, dict(self.headers.items())))
        path = self.path.split("?")[0]
        if path == "/hang":
            self.server.release.wait(5)
            return
        script = self.server.scripts.get(path, [404])
        status = script.pop(0) if len(script) > 1 else script[0]
        body = b"ok\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = do_POST = _answer


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


def no_sleep(_seconds: float) -> None:
    pass


def run(checks: list[SmokeCheck], client: httpx.Client) -> list[SmokeResult]:
    return run_smoke_checks(checks, service="shop-green", namespace="prod", colour="green",
                            client=client, sleep=no_sleep)


def test_ok_check_renders_placeholders(server: Server, client: httpx.Client) -> None:
    server.scripts["/green/prod/shop-green/healthz"] = [200]
    check = SmokeCheck(url=server.base + "/{colour}/{namespace}/{service}/healthz",
                       headers={"X-Smoke": "1"})
    [result] = run([check], client)
    assert result.ok and result.status == 200 and result.error is None
    assert result.attempts == 1
    assert result.name == "GET /{colour}/{namespace}/{service}/healthz"
    assert server.seen[0][2]["X-Smoke"] == "1"
    raise_if_failed([result])  # does not raise


def test_wrong_status_fails_after_retries_with_one_line(server: Server,
                                                        client: httpx.Client) -> None:
    server.scripts["/healthz"] = [500]
    check = SmokeCheck(url=server.base + "/healthz", retries=2, name="health")
    [result] = run([check], client)
    assert not result.ok and result.status == 500 and result.attempts == 3
    assert len(server.seen) == 3
    with pytest.raises(SmokeCheckFailed) as info:
        raise_if_failed([result])
    message = str(info.value)
    assert "\n" not in message
    assert "'health'" in message and "expected HTTP 200, got 500" in message
    assert isinstance(info.value, RolledBack) and info.value.exit_code == 3


def test_retries_then_succeeds(server: Server, client: httpx.Client) -> None:
    server.scripts["/ready"] = [503, 503, 204]
    check = SmokeCheck(url=server.base + "/ready", expect_status=204, retries=2)
    [result] = run([check], client)
    assert result.ok and result.status == 204 and result.attempts == 3


def test_timeout_fails(server: Server, client: httpx.Client) -> None:
    check = SmokeCheck(url=server.base + "/hang", timeout=0.2, retries=0)
    [result] = run([check], client)
    assert not result.ok and result.status is None
    assert result.error == "timed out after 0.2s"


def test_connection_refused_fails(client: httpx.Client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    check = SmokeCheck(url=f"http://127.0.0.1:{port}/healthz", retries=1)
    [result] = run([check], client)
    assert not result.ok and result.attempts == 2
    assert result.error is not None and result.error.startswith("cannot connect")


def test_secrets_in_url_never_shown(server: Server, client: httpx.Client) -> None:
    server.scripts["/healthz"] = [500]
    url = server.base.replace("http://", "http://user:hunter2@") + "/healthz?token=s3cret"
    [result] = run([SmokeCheck(url=url, retries=0)], client)
    with pytest.raises(SmokeCheckFailed) as info:
        raise_if_failed([result])
    for shown in (result.url, str(info.value)):
        assert "hunter2" not in shown and "s3cret" not in shown
    assert result.url.endswith("/healthz?token=***")


def test_every_check_runs_and_the_first_failure_is_named(server: Server,
                                                         client: httpx.Client) -> None:
    server.scripts["/a"] = [200]
    server.scripts["/b"] = [404]
    checks = [SmokeCheck(url=server.base + p, retries=0, name=p) for p in ("/a", "/b", "/c")]
    results = run(checks, client)
    assert [r.ok for r in results] == [True, False, False]
    with pytest.raises(SmokeCheckFailed, match=r"'/b' failed.*and 1 more failing"):
        raise_if_failed(results)


def test_owns_its_client_when_none_given(server: Server) -> None:
    server.scripts["/healthz"] = [200]
    [result] = run_smoke_checks([SmokeCheck(url=server.base + "/healthz")], service="s",
                                namespace="n", colour="green")
    assert result.ok


@pytest.mark.parametrize(("kwargs", "field", "expected"), [
    ({"url": "http://{svc}/x"}, "smoke.url", "unknown placeholder {svc}"),
    ({"url": "ftp://host/x"}, "smoke.url", "http:// or https://"),
    ({"url": "http://{service/x"}, "smoke.url", "bad URL template"),
    ({"expect_status": 42}, "smoke.expect_status", "100..599"),
    ({"timeout": 0}, "smoke.timeout", "> 0"),
    ({"retries": -1}, "smoke.retries", "0 or more"),
    ({"method": "FETCH"}, "smoke.method", "expected one of"),
])
def test_bad_check_is_one_clear_config_error(kwargs: dict[str, Any], field: str,
                                             expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        SmokeCheck(**kwargs)
    assert info.value.field == field
    assert "\n" not in str(info.value)


def test_default_url_is_in_cluster() -> None:
    check = SmokeCheck()
    assert check.render(service="shop-green", namespace="prod", colour="green") == (
        "http://shop-green.prod.svc.cluster.local/healthz")
    assert hash(check) == hash(SmokeCheck())


def test_labels_and_errors_never_show_secrets() -> None:
    """A check named by its full URL (as people do) shows it without credentials or query
    values; secret-named headers are masked wherever they could be quoted."""
    url = "http://probe:pw-s3cret@{service}.{namespace}/healthz?token=q-s3cret"
    check = SmokeCheck(url=url, name=url, headers={"Authorization": "Bearer h-s3cret",
                                                   "Accept": "text/plain"})
    assert check.label == "http://***@{service}.{namespace}/healthz?token=***"
    assert SmokeCheck(url=url).label == "GET /healthz"
    assert SmokeCheck(url=url, name="token q-s3cret").label == "token ***"
    assert {"pw-s3cret", "q-s3cret", "Bearer h-s3cret"} <= set(check.secrets())
    assert "text/plain" not in check.secrets()


def test_failure_message_masks_the_url_secrets() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    check = SmokeCheck(url=f"http://u:pw-s3cret@127.0.0.1:{port}/healthz?token=q-s3cret",
                       retries=0, name=f"http://127.0.0.1:{port}/healthz?token=q-s3cret")
    results = run_smoke_checks([check], service="s", namespace="n", colour="green")
    with pytest.raises(SmokeCheckFailed) as err:
        raise_if_failed(results)
    text = str(err.value) + repr(results)
    assert "pw-s3cret" not in text and "q-s3cret" not in text
    assert f"127.0.0.1:{port}/healthz" in text
