"""How config sections become parts: router placeholders reach the queries."""

from shifter import wiring
from shifter.analysis.render import render
from shifter.config import build_config
from shifter.plan import make_plan
from shifter.routers.base import Colour


def test_per_colour_placeholders_become_live_and_new():
    out = wiring.live_new_placeholders(
        {"rule_index": "2", "blue_backend_index": "0", "green_backend_index": "1"}, Colour.GREEN)
    assert out["live_backend_index"] == "0" and out["new_backend_index"] == "1"
    assert out["rule_index"] == "2"
    back = wiring.live_new_placeholders({"blue_backend_index": "0"}, Colour.BLUE)
    assert back["new_backend_index"] == "0" and "live_backend_index" not in back


def test_envoy_queries_name_the_clusters_of_the_routes_backends():
    cfg = build_config({"release": "shop", "namespace": "demo",
                        "router": {"kind": "gateway", "route": "web"},
                        "analysis": {"preset": "envoy"}})
    target = wiring.make_target(cfg, "demo")
    plan = make_plan(cfg.steps, bake=cfg.bake, interval=cfg.interval)
    analyzer = wiring.make_analyzer(
        cfg, target, Colour.GREEN, plan,
        placeholders={"rule_index": "3", "blue_backend_index": "0", "green_backend_index": "1"})
    spec = analyzer.checks[0]
    query = render(spec.query, analyzer.ctx, 30, check=spec.name, defaults=dict(spec.defaults))
    assert "httproute/demo/web/rule/3/backend/0" in query
    assert "httproute/demo/web/rule/3/backend/1" in query
    # the whole rollout's budget, split among the checks only (anytime-valid tests)
    assert spec.alpha == cfg.analysis.alpha
    assert analyzer.alpha_check[spec.name] == cfg.analysis.alpha / len(analyzer.checks)


def test_offline_checks_know_the_gateway_placeholders():
    cfg = build_config({"release": "shop", "router": {"kind": "gateway"},
                        "analysis": {"preset": "envoy"}})
    assert [c.name for c in wiring.make_checks(cfg)] == ["error-rate", "latency-p99"]
