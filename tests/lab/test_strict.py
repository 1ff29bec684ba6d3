"""``--strict`` and the scrape-interval warning through the real CLI, in the lab (issue 9).

The lab's live colour gets about 50 requests/s and Prometheus scrapes every second: with
``min_requests`` 2000 the 10% step (about 5 requests/s) cannot reach it before a 15 s
deadline. ``validate`` and ``run`` warn; with ``--strict`` both refuse (exit 2) before
anything is written.
"""

from __future__ import annotations

import pytest

from tests.lab.cli import config, resource_versions, shifter, write_config

pytestmark = pytest.mark.lab


def test_strict_refuses_a_step_deadline_the_traffic_cannot_meet(lab_gateway, tmp_path):
    lab = lab_gateway
    cfg = config(lab, "gateway", analysis={"min_requests": 2000})
    path = write_config(tmp_path, cfg)
    before = resource_versions(lab)
    lenient = shifter(lab, "validate", "-f", str(path))
    assert lenient.code == 0, lenient.stderr
    timeline = lenient.of("plan")[0]["timeline"]
    assert any(line.startswith("  WARNING: step 1 cannot reach min_requests") for line in timeline)
    for args in (["validate", "-f", str(path)], ["run", "shop", "-f", str(path)]):
        strict = shifter(lab, *args, "--strict")
        assert strict.code == 2, strict.stderr
        assert strict.summary["reason"].startswith(
            "step_deadline: step 1 (10%) cannot reach min_requests (2000) before its deadline "
            f"({cfg['step_deadline']}) at the measured ")
    assert resource_versions(lab) == before  # no Lease, no weight: nothing changed
    assert lab.controller.split.get("blue") == 100.0


def test_an_interval_shorter_than_the_scrape_interval_is_warned(lab_gateway, tmp_path):
    lab = lab_gateway
    path = write_config(tmp_path, config(lab, "gateway", interval="0.5s"))
    valid = shifter(lab, "validate", "-f", str(path))
    assert valid.code == 0, valid.stderr
    assert valid.of("plan")[0]["timeline"][-1].startswith(
        "  WARNING: interval 0.5s is shorter than the scrape interval of http_requests_total{")
