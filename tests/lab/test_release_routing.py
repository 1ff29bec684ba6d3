"""The lab data plane's preview routes as the real controllers read them (pure)."""

from __future__ import annotations

from lab import routing
from lab.haproxy import render_config
from lab.seed import httproute, ingress, virtualservice


def test_httproute_header_rule_is_a_preview_route():
    route = httproute("shop", "demo")
    assert routing.httproute_previews(route) == {}
    route["spec"]["rules"].append({
        "name": "shifter-preview",
        "matches": [{"path": {"type": "PathPrefix", "value": "/"},
                     "headers": [{"type": "Exact", "name": "X-Shifter-Preview",
                                  "value": "green"}]}],
        "backendRefs": [{"name": "shop-green", "port": 80}]})
    assert routing.httproute_previews(route) == {("x-shifter-preview", "green"): "shop-green"}
    assert routing.httproute_shares(route) == {"shop-blue": 1.0}  # weights unchanged


def test_virtualservice_header_route_counts_only_before_the_weighted_route():
    vs = virtualservice("shop", "demo")
    preview = {"name": "shifter-preview",
               "match": [{"headers": {"x-shifter-preview": {"exact": "green"}}}],
               "route": [{"destination": {"host": "shop-green.demo.svc.cluster.local"}}]}
    vs["spec"]["http"].append(preview)
    assert routing.virtualservice_previews(vs) == {}  # after primary: never matched
    vs["spec"]["http"] = [preview, vs["spec"]["http"][0]]
    assert routing.virtualservice_previews(vs) == {("x-shifter-preview", "green"): "shop-green"}


def test_nginx_canary_by_header_value_is_a_preview_route():
    main = ingress("shop", "demo")
    canary = ingress("shop", "demo")
    canary["metadata"]["name"] = "shop-canary"
    canary["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "shop-green"
    canary["metadata"]["annotations"] = {routing.CANARY: "true", routing.CANARY_WEIGHT: "0",
                                         routing.BY_HEADER: "X-Shifter-Preview",
                                         routing.BY_HEADER_VALUE: "green"}
    assert routing.nginx_previews(main, [main, canary]) == {
        ("x-shifter-preview", "green"): "shop-green"}
    assert routing.nginx_shares(main, [main, canary]) == {"shop-blue": 1.0}


def test_haproxy_config_routes_the_preview_header_by_map(tmp_path):
    text = render_config(ingress_port=1, exporter_port=2, servers={"blue": 3, "green": 4},
                         socket_path=tmp_path / "s", preview_map=tmp_path / "p.map")
    assert f"req.hdr(X-Shifter-Preview),map_str({tmp_path / 'p.map'},none)" in text
    assert "use-server shop-green if { var(txn.preview) -m str shop-green }" in text
