"""``shifter run`` end to end through the real CLI, in the lab, for every router."""

from __future__ import annotations

import pytest

from tests.lab.cli import (
    STRICT,
    config,
    resource_versions,
    shifter,
    wait_for_split,
    wait_for_traffic,
    write_config,
)

ROUTERS = ["nginx", "gateway"]
pytestmark = pytest.mark.lab

@pytest.mark.parametrize("lab", ROUTERS, indirect=True)
def test_healthy_green_is_promoted_and_the_next_run_goes_back_to_blue(lab, tmp_path):
    router = lab.router
    path = write_config(tmp_path, config(lab, router, bake="2s"))
    first = shifter(lab, "run", "shop", "-f", str(path))
    assert first.code == 0, first.stderr
    assert first.summary["outcome"] == "promoted"
    assert [e["weight"] for e in first.of("step")] == [10, 50, 100]
    assert all(v["verdict"] != "fail" for v in first.of("verdict"))
    wait_for_split(lab, {"green": 100.0})

    second = shifter(lab, "run", "shop", "-f", str(path))
    assert second.code == 0, second.stderr
    assert second.of("plan")[0]["new_service"] == "shop-blue"
    wait_for_split(lab, {"blue": 100.0})


@pytest.mark.parametrize("lab", ROUTERS, indirect=True)
def test_green_with_errors_is_reverted_at_the_first_step(lab, tmp_path):
    lab.fault("green", error_rate=0.2)
    path = write_config(tmp_path, config(lab, lab.router, analysis=STRICT))
    result = shifter(lab, "run", "shop", "-f", str(path))
    assert result.code == 3, result.stderr
    assert result.summary["outcome"] == "rolled_back"
    assert [e["weight"] for e in result.of("step")] == [10]
    names = [e["event"] for e in result.events]
    first_fail = next(i for i, e in enumerate(result.events)
                      if e["event"] == "verdict" and e["verdict"] == "fail")
    # The revert is the very next thing after the first failing sample: one write.
    assert names[first_fail + 1:first_fail + 3] == ["revert", "reverted"]
    failing = result.events[first_fail]
    error_check = next(c for c in failing["checks"] if c["check"] == "error-rate")
    assert error_check["verdict"] == "fail" and error_check["query"]
    assert error_check["values"]  # the measured values explain the verdict
    wait_for_split(lab, {"blue": 100.0}, timeout=10.0)
    reverted_at = result.of("reverted")[0]["time"]
    lab.fault("green", clear=True)
    after = wait_for_traffic(lab, since=reverted_at + 0.5, requests=50)
    assert after["failed"] == 0, after


@pytest.mark.parametrize("lab", ROUTERS, indirect=True)
def test_green_with_added_latency_is_reverted(lab, tmp_path):
    lab.fault("green", latency=0.3)
    path = write_config(tmp_path, config(lab, lab.router))
    result = shifter(lab, "run", "shop", "-f", str(path))
    assert result.code == 3, result.stderr
    failing = next(e for e in result.of("verdict") if e["verdict"] == "fail")
    assert any(c["check"].startswith("latency") and c["verdict"] == "fail"
               for c in failing["checks"])
    wait_for_split(lab, {"blue": 100.0})


@pytest.mark.parametrize("lab", ROUTERS, indirect=True)
def test_no_metrics_for_green_is_never_promoted(lab, tmp_path):
    lab.fault("green", no_metrics=True)
    cfg = config(lab, lab.router, bake="2s", step_deadline="5s")
    result = shifter(lab, "run", "shop", "-f", str(write_config(tmp_path, cfg)))
    assert result.code == 3, result.stderr
    assert [e["weight"] for e in result.of("step")] == [10]
    assert not any(v["verdict"] == "pass" for v in result.of("verdict"))
    assert "deadline" in result.summary["reason"]
    wait_for_split(lab, {"blue": 100.0})


@pytest.mark.parametrize("lab", ROUTERS, indirect=True)
def test_dry_run_and_validate_change_nothing(lab, tmp_path):
    path = write_config(tmp_path, config(lab, lab.router))
    before = resource_versions(lab)
    dry = shifter(lab, "run", "shop", "-f", str(path), "--dry-run")
    assert dry.code == 0, dry.stderr
    changes = dry.of("plan")[0]["changes"]
    # (nginx without a canary: a step is two writes, the create at weight 0 and the patch)
    assert list(dict.fromkeys(c["step"] for c in changes))[:3] == [1, 2, 3]
    assert all(c["verb"] in ("patch", "create") and c["body"] for c in changes)
    assert [e["check"] for e in dry.of("preflight")].count("access") == 1  # reviewed too
    valid = shifter(lab, "validate", "-f", str(path))
    assert valid.code == 0, valid.stderr
    assert resource_versions(lab) == before
    assert lab.controller.split.get("blue") == 100.0


@pytest.mark.parametrize("args,code,message", [
    (["--router", "traefik"], 2, "router"),
    (["--steps", "50,10"], 2, "steps: expected strictly increasing"),
    (["--max-latency-p99", "fast"], 2, "analysis.max_latency_p99"),
    (["--prometheus", "http://127.0.0.1:9"], 5, "127.0.0.1:9"),
])
def test_bad_input_is_one_line_and_changes_nothing(lab_nginx, tmp_path, args, code, message):
    lab = lab_nginx
    path = write_config(tmp_path, config(lab, "nginx"))
    before = resource_versions(lab)
    result = shifter(lab, "run", "shop", "-f", str(path), *args, output="text")
    assert result.code == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert resource_versions(lab) == before


def test_missing_ingress_is_invalid_input(lab_nginx, tmp_path):
    lab = lab_nginx
    lab.apiserver.store.delete("networking.k8s.io/v1", "ingresses", lab.namespace, "shop")
    before = resource_versions(lab)
    result = shifter(lab, "run", "shop", "-f", str(write_config(tmp_path, config(lab, "nginx"))),
                     output="text")
    assert result.code == 2
    assert "ingress" in result.stderr.lower() and "not found" in result.stderr
    assert resource_versions(lab) == before


def test_query_that_does_not_parse_is_invalid_input(lab_gateway, tmp_path):
    lab = lab_gateway
    cfg = config(lab, "gateway", analysis={"checks": [
        {"name": "broken", "query": "sum by (service) (rate(x{service=~\"{services}\"}[",
         "max": 1}]})
    before = resource_versions(lab)
    result = shifter(lab, "run", "shop", "-f", str(write_config(tmp_path, cfg)), output="text")
    assert result.code == 2, result.stderr
    assert "broken" in result.stderr
    assert resource_versions(lab) == before


def test_no_token_or_kubeconfig_contents_in_any_output(lab_gateway, tmp_path, monkeypatch):
    lab = lab_gateway
    monkeypatch.setenv("SHIFTER_LOG_LEVEL", "debug")
    lab.apiserver.faults.set(resource="httproutes", verbs="read", error_rate=0.5,
                             error_code=500)  # error paths log the most
    try:
        path = write_config(tmp_path, config(lab, "gateway"))
        result = shifter(lab, "run", "shop", "-f", str(path), "--dry-run")
    finally:
        lab.apiserver.faults.clear()
    assert result.code == 0, result.stderr
    everything = result.stdout + result.stderr
    assert lab.apiserver.admin_token not in everything
    assert "certificate-authority-data" not in everything and "BEGIN CERTIFICATE" not in everything
