"""Rendering templates and the preset builder."""

from __future__ import annotations

import re

import pytest

from shifter.analysis.checks import CheckKind, CheckSpec, RenderContext
from shifter.analysis.presets import PRESETS, build_checks
from shifter.analysis.render import PLACEHOLDER, promql_regex_escape, render
from shifter.errors import InvalidInput

CTX = RenderContext(
    namespace="shop-ns",
    release="shop",
    live_service="shop-blue",
    new_service="shop-green",
    ingress="shop",
    route="shop-route",
    extra={"live_backend_index": "0", "new_backend_index": "1", "rule_index": "0"},
)


def test_placeholders_render_and_label_matchers_survive() -> None:
    tpl = (
        'sum by (service) (increase(x{namespace="{namespace}", service=~"{services}", '
        'code=~"5.."}[{window}])) + on() y{job="a"} # {release} {ingress} {route} {service}'
    )
    out = render(tpl, CTX, 17.9, check="c")
    assert out == (
        'sum by (service) (increase(x{namespace="shop-ns", service=~"shop-blue|shop-green", '
        'code=~"5.."}[17s])) + on() y{job="a"} # shop shop shop-route shop-blue|shop-green'
    )


def test_live_and_new_service_and_extra() -> None:
    out = render("{live_service} {new_service} {live_backend_index}", CTX, 60, check="c")
    assert out == "shop-blue shop-green 0"


def test_unknown_placeholder_names_check_and_placeholder() -> None:
    with pytest.raises(
        InvalidInput,
        match=r"analysis\.checks\[my-check\]: unknown placeholder "
        r"\{svc\} \(expected one of .*\{services\}",
    ):
        render('x{service=~"{svc}"}', CTX, 60, check="my-check")


def test_regex_escaping_of_service_names() -> None:
    ctx = RenderContext("ns", "r", "a.b", "c+d", "", "")
    assert render("{services}", ctx, 60, check="c") == r"a\\.b|c\\+d"
    assert promql_regex_escape('x"y') == 'x\\"y'
    assert promql_regex_escape("shop-blue") == "shop-blue"


def test_extra_cannot_shadow_builtin() -> None:
    ctx = RenderContext("ns", "r", "a", "b", extra={"window": "5m"})
    with pytest.raises(InvalidInput, match=r"analysis\.extra: 'window'"):
        render("{window}", ctx, 60, check="c")


def test_defaults_render_and_extra_wins() -> None:
    defaults = {"live_cluster": "httproute/{namespace}/{route}/rule/0/backend/{live_backend_index}"}
    assert render("{live_cluster}", CTX, 60, check="c", defaults=defaults) == (
        "httproute/shop-ns/shop-route/rule/0/backend/0"
    )
    ctx = RenderContext("ns", "r", "a", "b", extra={"live_cluster": "mine"})
    assert render("{live_cluster}", ctx, 60, check="c", defaults=defaults) == "mine"


def _balanced(text: str) -> bool:
    depth = {"(": 0, "[": 0, "{": 0}
    pairs = {")": "(", "]": "[", "}": "{"}
    in_str = False
    for i, ch in enumerate(text):
        if ch == '"' and text[i - 1] != "\\":
            in_str = not in_str
        if in_str:
            continue
        if ch in depth:
            depth[ch] += 1
        elif ch in pairs:
            depth[pairs[ch]] -= 1
            if depth[pairs[ch]] < 0:
                return False
    return not in_str and all(v == 0 for v in depth.values())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_render_to_valid_looking_promql(name: str) -> None:
    checks = build_checks(
        preset=name,
        max_error_rate=0.01,
        max_latency=0.5,
        min_requests=50,
        alpha=0.01,
        extra=tuple(CTX.extra),
    )
    assert [c.name for c in checks] == [
        "error-rate",
        "latency-mean" if name == "haproxy" else "latency-p99",
    ]
    for check in checks:
        q = render(check.query, CTX, 30, check=check.name, defaults=dict(check.defaults),
                   start=1764600000.5)
        assert not PLACEHOLDER.search(q), q
        assert _balanced(q), q
        # exact counts: the counter now minus at the weight change, no increase()
        assert "@ 1764600000.500" in q or check.name == "latency-mean", q
        assert "increase(" not in q
        assert re.search(r"by \(service(, le)?\)", q)
    err = render(checks[0].query, CTX, 30, check="e", defaults=dict(checks[0].defaults))
    assert 'kind", "total"' in err and 'kind", "errors"' in err and "* 0" in err


def test_preset_specifics() -> None:
    istio = build_checks(preset="istio", max_error_rate=0.01, max_latency=0.5)
    assert 'reporter="source"' in istio[0].query and istio[1].scale == 0.001
    nginx = build_checks(preset="nginx", max_error_rate=0.01, max_latency=0.5)
    assert "nginx_ingress_controller_request_duration_seconds_bucket" in nginx[1].query
    assert "ingress=" not in nginx[0].query  # the canary Ingress has its own ingress label
    hap = build_checks(preset="haproxy", max_error_rate=0.01, max_latency=0.5)
    assert hap[1].kind is CheckKind.THRESHOLD and "MEAN" in hap[1].note
    only_err = build_checks(
        preset="app", max_error_rate=0.02, max_latency=None, max_error_rate_over_baseline=None
    )
    assert len(only_err) == 1 and only_err[0].max == 0.02 and only_err[0].max_over_baseline is None


def test_unknown_preset() -> None:
    with pytest.raises(InvalidInput) as e:
        build_checks(preset="x", max_error_rate=0.01, max_latency=None)
    assert (
        str(e.value)
        == "analysis.preset: expected one of app, envoy, haproxy, istio, nginx, got 'x'"
    )


def test_envoy_needs_backend_indexes_or_clusters() -> None:
    with pytest.raises(InvalidInput, match=r"needs analysis\.extra\.live_cluster"):
        build_checks(preset="envoy", max_error_rate=0.01, max_latency=None)
    assert build_checks(
        preset="envoy", max_error_rate=0.01, max_latency=None, extra=("live_cluster", "new_cluster")
    )


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"max_error_rate": 1.5}, "maxErrorRate"),
        ({"latency_quantile": 1.0}, "latencyQuantile"),
        ({"alpha": 0.0}, "alpha"),
        ({"min_requests": 0}, "minRequests"),
        ({"max_latency": -1.0}, "maxLatency"),
    ],
)
def test_builder_rejects_bad_limits(kw: dict[str, float], field: str) -> None:
    args = {"preset": "app", "max_error_rate": 0.01, "max_latency": 0.5, **kw}
    with pytest.raises(InvalidInput, match=f"analysis.{field}: expected"):
        build_checks(**args)  # type: ignore[arg-type]


def test_custom_checks_are_checked() -> None:
    good = CheckSpec("queue", CheckKind.THRESHOLD, 'max by (service) (q{service=~"{services}"})', 5)
    assert build_checks(preset=None, max_error_rate=None, max_latency=None, custom=[good]) == [good]
    bad = CheckSpec("queue", CheckKind.THRESHOLD, "q{svc}", 5)
    with pytest.raises(InvalidInput, match=r"checks\[queue\]: unknown placeholder \{svc\}"):
        build_checks(preset=None, max_error_rate=None, max_latency=None, custom=[bad])
    dup = CheckSpec("error-rate", CheckKind.THRESHOLD, "q", 5)
    with pytest.raises(InvalidInput, match="duplicate check name"):
        build_checks(preset="app", max_error_rate=0.01, max_latency=None, custom=[dup])
