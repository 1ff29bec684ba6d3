"""Pre-traffic checks in the lab: pre_traffic commands and the header preview route through
the real data plane (HAProxy programmed from the router objects), before any weight."""

from __future__ import annotations

import sys
import time

import pytest

from lab.procs import wait_until
from tests.lab.cli import config, resource_versions, shifter, wait_for_split, write_config

pytestmark = pytest.mark.lab

CHECK = """
import os, sys, urllib.request
name, value = os.environ["SHIFTER_PREVIEW_HEADER"].split(": ", 1)
seen = set()
for _ in range(20):
    req = urllib.request.Request(os.environ["SHIFTER_PREVIEW_URL"] + "/", headers={name: value})
    with urllib.request.urlopen(req, timeout=5) as resp:
        seen.add((resp.headers["X-Colour"], resp.headers.get("X-Version")))
print("preview reached", sorted(seen))
sys.exit(0 if seen == {(os.environ["SHIFTER_NEW_COLOUR"], "shop:v2")} else 1)
"""


def _rules(lab):
    store = lab.apiserver.store
    if lab.router == "nginx":
        canary = store.get("networking.k8s.io/v1", "ingresses", lab.namespace, "shop-canary")
        ann = ((canary or {}).get("metadata") or {}).get("annotations") or {}
        return [{"name": k} for k in sorted(ann) if "by-header" in k]
    if lab.router == "istio":
        return store.get("networking.istio.io/v1", "virtualservices", lab.namespace,
                         "shop")["spec"]["http"]
    route = store.get("gateway.networking.k8s.io/v1", "httproutes", lab.namespace, "shop")
    return route["spec"]["rules"]


ROUTER = {"gateway": {"kind": "gateway"}, "istio": {"kind": "istio", "route": "primary"},
          "nginx": {"kind": "nginx"}}


@pytest.mark.parametrize("lab", ["gateway", "istio", "nginx"], indirect=True)
def test_preview_header_reaches_the_new_colour_at_weight_0_then_is_removed(lab, tmp_path):
    script = tmp_path / "check.py"
    script.write_text(CHECK)
    before = [r.get("name") for r in _rules(lab)]
    cfg = config(lab, lab.router, bake="2s",
                 preview={"header": "X-Shifter-Preview", "url": lab.info["ingress_url"]},
                 pre_traffic=[{"name": "preview", "run": f"{sys.executable} {script}",
                               "timeout": "30s"}],
                 smoke=[{"name": "through-preview", "url": lab.info["ingress_url"] + "/",
                         "headers": {"X-Shifter-Preview": "{colour}"}}])
    cfg["router"] = ROUTER[lab.router]
    path = write_config(tmp_path, cfg)
    result = shifter(lab, "run", "shop", "-f", str(path), "--image", "app=shop:v2")
    assert result.code == 0, result.stderr
    done = [e for e in result.of("pretraffic") if e["status"] != "started"]
    assert done[0]["status"] == "ok", done
    assert "preview reached [('green', 'shop:v2')]" in done[0]["tail"]
    assert "[pre-traffic preview] preview reached" in result.stderr
    names = [e["event"] for e in result.events]
    assert names.index("pretraffic") < names.index("step")  # before any weight
    assert [e["action"] for e in result.of("preview")] == ["added", "removed"]
    assert [r.get("name") for r in _rules(lab)] == before
    wait_for_split(lab, {"green": 100.0})


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_failing_pre_traffic_command_leaves_traffic_on_live_with_its_output(lab, tmp_path):
    fail = "import sys; print('integration test: checkout broken'); sys.exit(1)"
    cfg = config(lab, lab.router, preview={"header": "X-Shifter-Preview"},
                 pre_traffic=[{"name": "integration", "run": f"{sys.executable} -c \"{fail}\""}])
    path = write_config(tmp_path, cfg)
    since = time.time()
    result = shifter(lab, "run", "shop", "-f", str(path), "--image", "app=shop:v2")
    assert result.code == 3, result.stderr
    assert "pre-traffic command 'integration' failed (exited 1)" in result.summary["reason"]
    assert "checkout broken" in result.summary["reason"]
    assert not result.of("step")
    assert [e["action"] for e in result.of("preview")] == ["added", "removed"]
    assert [r.get("name") for r in _rules(lab)] == [None]
    wait_for_split(lab, {"blue": 100.0})
    stats = lab.stats(since=since)
    assert sum(stats["by_colour"].get("green", {}).values()) == 0, stats


@pytest.mark.parametrize("lab", ["service"], indirect=True)
def test_service_router_says_it_has_no_preview_route(lab, tmp_path):
    cfg = config(lab, lab.router, bake="1s", preview={"header": "X-Shifter-Preview"})
    path = write_config(tmp_path, cfg)
    before = resource_versions(lab)
    result = shifter(lab, "run", "shop", "-f", str(path), "--dry-run", "--image", "shop:v2")
    assert result.code == 0, result.stderr
    assert resource_versions(lab) == before
    result = shifter(lab, "run", "shop", "-f", str(path), "--image", "shop:v2")
    assert result.code == 0, result.stderr
    assert result.of("preview")[0]["action"] == "none"
    assert "no preview route: the service router switches a selector" in result.of(
        "preview")[0]["message"]


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_interrupted_shifter_stops_the_pre_traffic_command(lab, tmp_path):
    import signal

    from lab.procs import pid_alive, wait_until
    from tests.lab.cli import Running

    pidfile = tmp_path / "child.pid"
    code = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    cfg = config(lab, lab.router,
                 pre_traffic=[{"name": "slow", "run": f"{sys.executable} -c \"{code}\""}])
    path = write_config(tmp_path, cfg)
    run = Running(lab, "run", "shop", "-f", str(path), "--image", "shop:v2", log_dir=tmp_path)
    try:
        run.wait_for_event(lambda e: e.get("event") == "pretraffic"
                           and e.get("status") == "started", timeout=60)
        wait_until(lambda: pidfile.exists() and pidfile.read_text(), timeout=10,
                   what="the command's pid")
        child = int(pidfile.read_text())
        run.signal(signal.SIGTERM)
        result = run.wait(timeout=30)
    finally:
        run.kill()
    assert result.code == 4, result.stderr
    assert not pid_alive(child)
    assert "interrupted by SIGTERM before any traffic moved" in result.summary["reason"]
    wait_for_split(lab, {"blue": 100.0})


def _colours_seen(lab, headers, n=40):
    import urllib.request

    seen: dict[str, int] = {}
    for _ in range(n):
        req = urllib.request.Request(lab.info["ingress_url"] + "/", headers=headers)
        with urllib.request.urlopen(req, timeout=5) as resp:
            colour = resp.headers["X-Colour"]
            seen[colour] = seen.get(colour, 0) + 1
    return seen


@pytest.mark.parametrize("lab", ["nginx"], indirect=True)
def test_lab_data_plane_routes_an_nginx_canary_by_header_before_its_weight(lab):
    from lab import routing, seed

    assert lab.controller is not None
    canary = seed.ingress("shop", "demo")
    canary["metadata"]["name"] = "shop-canary"
    canary["metadata"]["annotations"] = {routing.CANARY: "true", routing.CANARY_WEIGHT: "0",
                                         routing.BY_HEADER: "X-Shifter-Preview",
                                         routing.BY_HEADER_VALUE: "green"}
    path = canary["spec"]["rules"][0]["http"]["paths"][0]
    path["backend"]["service"]["name"] = "shop-green"
    lab.apiserver.store.put(canary)
    try:
        wait_until(lambda: lab.controller.previews == {("x-shifter-preview", "green"): "green"},
                   timeout=5, what="the preview route programmed")
        assert _colours_seen(lab, {"X-Shifter-Preview": "green"}) == {"green": 40}
        assert _colours_seen(lab, {"X-Shifter-Preview": "blue"}) == {"blue": 40}
        assert _colours_seen(lab, {}) == {"blue": 40}
    finally:
        lab.apiserver.store.delete("networking.k8s.io/v1", "ingresses", lab.namespace,
                                   "shop-canary")
    wait_until(lambda: lab.controller.previews == {}, timeout=5, what="the preview removed")
    assert _colours_seen(lab, {"X-Shifter-Preview": "green"}) == {"blue": 40}
