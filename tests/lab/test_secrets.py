"""No planted secret appears in any output (issue 13, defect 9).

A secret is planted in every input that can hold one: the smoke checks' URLs (userinfo and
a query token), a smoke check named by its full URL, the smoke checks' headers
(``Authorization``, ``X-Api-Key``), two webhook URLs (one in the file, one from the
environment), the Prometheus URL's password, and the kubeconfig's bearer token. Then the
real CLI runs rollouts against the lab, a promoted one, one reverted by a failing smoke
check, one with Prometheus unreachable and two config errors, with text and JSON output,
and every output is searched for every secret: stdout, stderr (debug logs), the GitHub step
summary, the Lease record, the Kubernetes Events, the webhook bodies and ``status``.

Each secret is a unique random string, so a hit cannot be a coincidence; the test also
checks that the secrets really were used (the smoke checks and the webhooks were reached
with them, the run promoted), so a secret that never entered shifter cannot pass for one
that was redacted.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from lab.core import Lab
from tests.lab.cli import Result, config, parse, wait_for_split

pytestmark = pytest.mark.lab


def _secret(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(8)}"


class Hook:
    """A webhook receiver on loopback whose path holds a secret; records what it got."""

    def __init__(self, secret: str) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.raw.append(data)
                outer.bodies.append(json.loads(data))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{secret}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class Smoke:
    """A smoke target on loopback recording the URL and headers each request carried."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.seen.append((self.path, dict(self.headers)))
                ok = self.path.startswith("/healthz")
                self.send_response(200 if ok else 503)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.port = self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class Planted:
    """The secrets, the inputs that hold them, and every output shifter produced."""

    def __init__(self, lab: Lab, tmp_path: Path) -> None:
        self.lab = lab
        self.tmp_path = tmp_path
        self.s = {k: _secret(k) for k in ("smokeq", "smokepw", "smokename", "bearer", "apikey",
                                          "hookfile", "hookenv", "prompw", "kubetoken")}
        self.hook_file, self.hook_env = Hook(self.s["hookfile"]), Hook(self.s["hookenv"])
        self.smoke = Smoke()
        lab.apiserver.add_token(self.s["kubetoken"], "admin")
        self.kubeconfig = lab.apiserver.write_kubeconfig(tmp_path / "kubeconfig",
                                                         token=self.s["kubetoken"],
                                                         namespace=lab.namespace)
        self.summary = tmp_path / "step-summary.md"
        self.outputs: list[tuple[str, str]] = []

    def close(self) -> None:
        for server in (self.hook_file, self.hook_env, self.smoke):
            server.close()

    def prometheus(self, url: str | None = None) -> str:
        parts = urlsplit(url or self.lab.info["prometheus_url"])
        return f"{parts.scheme}://shifter:{self.s['prompw']}@{parts.netloc}"

    def smoke_checks(self, path: str = "/healthz") -> list[dict[str, Any]]:
        base = f"http://probe:{self.s['smokepw']}@127.0.0.1:{self.smoke.port}"
        return [
            {"url": f"{base}{path}?token={self.s['smokeq']}", "retries": 0,
             "headers": {"X-Api-Key": self.s["apikey"], "Accept": "text/plain"}},
            {"name": f"http://127.0.0.1:{self.smoke.port}{path}?key={self.s['smokename']}",
             "url": f"http://127.0.0.1:{self.smoke.port}{path}?key={self.s['smokename']}",
             "headers": {"Authorization": f"Bearer {self.s['bearer']}"}, "retries": 0},
        ]

    def config(self, **overrides: Any) -> Path:
        cfg = config(self.lab, "gateway", bake="2s", smoke=self.smoke_checks(),
                     notify=[{"url": self.hook_file.url}, {"url_env": "SECRET_HOOK_URL"}],
                     **overrides)
        cfg["analysis"]["prometheus"] = self.prometheus()
        path = self.tmp_path / f"shift-{len(self.outputs)}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    def shifter(self, name: str, *args: str, output: str | None = "json") -> Result:
        cmd = [os.sys.executable, "-m", "shifter", *args, "--kubeconfig", str(self.kubeconfig)]
        if output:
            cmd += ["--output", output]
        env = {**os.environ, "SECRET_HOOK_URL": self.hook_env.url, "SHIFTER_LOG_LEVEL": "debug",
               "GITHUB_STEP_SUMMARY": str(self.summary)}
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env,
                              check=False)
        self.outputs += [(f"{name} stdout", proc.stdout), (f"{name} stderr", proc.stderr)]
        return Result(proc.returncode, proc.stdout, proc.stderr, parse(proc.stdout))

    def cluster_records(self) -> None:
        store = self.lab.apiserver.store
        for api_version, plural in [("coordination.k8s.io/v1", "leases"), ("v1", "events")]:
            for obj in store.list(api_version, plural, self.lab.namespace):
                self.outputs.append((f"{plural}/{obj['metadata']['name']}", json.dumps(obj)))

    def leaks(self) -> list[str]:
        found = []
        outputs = [*self.outputs, ("GitHub step summary", self.summary.read_text()
                                   if self.summary.exists() else "")]
        outputs += [(f"webhook body {i}", raw.decode()) for i, raw in
                    enumerate(self.hook_file.raw + self.hook_env.raw)]
        for where, text in outputs:
            for kind, value in self.s.items():
                if value in text:
                    line = next(x for x in text.splitlines() if value in x)
                    found.append(f"{kind} in {where}: {line[:300]}")
        return found


@pytest.fixture
def planted(lab_gateway: Lab, tmp_path: Path) -> Any:
    p = Planted(lab_gateway, tmp_path)
    yield p
    p.close()


def test_no_planted_secret_in_any_output(planted: Planted) -> None:
    p, lab = planted, planted.lab
    # 1. a promoted rollout, JSON output, then status in text and JSON
    result = p.shifter("promoted", "run", "shop", "-f", str(p.config()))
    assert result.code == 0, result.stderr[-3000:]
    wait_for_split(lab, {"green": 100.0})
    for output in ("text", "json"):
        status = p.shifter(f"status {output}", "status", "shop", "-n", lab.namespace,
                           output=output)
        assert status.code == 0, status.stderr
    # the secrets really were used: the smoke checks carried them, the webhooks got events
    (path, headers), (_, headers2) = p.smoke.seen[:2]
    assert p.s["smokeq"] in path and headers["X-Api-Key"] == p.s["apikey"]
    assert headers2["Authorization"] == f"Bearer {p.s['bearer']}"
    assert [b["event"] for b in p.hook_file.bodies][-1] == "promoted"
    assert [b["event"] for b in p.hook_env.bodies][-1] == "promoted"

    p.cluster_records()  # before the reseed clears them
    assert any(w.startswith("events/") for w, _ in p.outputs), "no Event was recorded"
    assert any(w.startswith("leases/") for w, _ in p.outputs), "no Lease was recorded"

    # 2. text output, reverted by a failing smoke check (its message names URL and error)
    lab.reseed("gateway")
    cfg = p.config()
    data = yaml.safe_load(cfg.read_text())
    data["smoke"] = p.smoke_checks("/broken")
    cfg.write_text(yaml.safe_dump(data))
    result = p.shifter("smoke failure", "run", "shop", "-f", str(cfg), output="text")
    assert result.code == 3, result.stderr[-3000:]
    assert "/broken" in result.stderr  # the failing check is named, its path shown

    # 3. Prometheus unreachable: the client's errors quote the URL it was given
    data["smoke"] = p.smoke_checks()
    data["analysis"]["prometheus"] = p.prometheus("http://127.0.0.1:9")
    cfg.write_text(yaml.safe_dump(data))
    result = p.shifter("prometheus down", "run", "shop", "-f", str(cfg))
    assert result.code in (2, 5), result.stderr[-3000:]

    # 4. config errors that used to echo the URL they reject
    for field, value in (("analysis", {"prometheus": f"htp://u:{p.s['prompw']}@x"}),
                         ("notify", [{"url": f"ftp://h.example/{p.s['hookfile']}"}]),
                         ("smoke", [{"url": f"gopher://u:{p.s['smokepw']}@x/?t="
                                            f"{p.s['smokeq']}"}])):
        bad = {**data, field: value if field != "analysis" else {**data["analysis"], **value}}
        cfg.write_text(yaml.safe_dump(bad))
        result = p.shifter(f"bad {field}", "run", "shop", "-f", str(cfg))
        assert result.code == 2, result.stderr[-3000:]
        assert result.stderr.startswith(f"error: {field}"), result.stderr

    p.cluster_records()
    assert p.leaks() == []


def test_records_sent_to_the_api_server_are_scrubbed(lab_session: Lab) -> None:
    """The Kubernetes client masks registered secrets in what it writes to Leases and
    Events (for people to read later), and in nothing else (a router write is sent as
    built)."""
    from shifter import redact
    from shifter.kube.client import ObjectRef, PatchType, load_client

    lab = lab_session
    lab.reseed("service")
    secret = _secret("recorded")
    redact.register(secret)
    try:
        client = load_client(kubeconfig=lab.info["kubeconfig"])
        lease = ObjectRef("coordination.k8s.io/v1", "leases", "Lease", "shifter-scrub",
                          lab.namespace)
        client.create(lease, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                              "metadata": {"name": "shifter-scrub", "annotations": {
                                  "shifter.io/state": f'{{"reason": "failed: {secret}"}}'}},
                              "spec": {"holderIdentity": "me"}})
        client.patch(lease, {"metadata": {"annotations": {"note": secret}}}, PatchType.MERGE)
        service = ObjectRef("v1", "services", "Service", "shop", lab.namespace)
        client.patch(service, {"metadata": {"annotations": {"note": secret}}},
                     PatchType.MERGE)
    finally:
        redact.forget_all()
    stored = lab.apiserver.store.get("coordination.k8s.io/v1", "leases", lab.namespace,
                                     "shifter-scrub")
    assert secret not in json.dumps(stored)
    assert stored["metadata"]["annotations"] == {"shifter.io/state": '{"reason": "failed: ***"}',
                                                 "note": "***"}
    shop = lab.apiserver.store.get("v1", "services", lab.namespace, "shop")
    assert shop["metadata"]["annotations"]["note"] == secret
    lab.reseed("gateway")
