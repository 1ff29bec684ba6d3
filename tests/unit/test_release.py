"""The pure parts of shifter.release: image flags, patches, template equality, readiness,
pre-traffic command plumbing and preview-route patches."""

from __future__ import annotations

import pytest

from shifter.errors import ConfigError, InvalidInput
from shifter.release import commands, preview, readiness, spec, template
from shifter.routers.base import Colour


def dep(colour="green", image="shop:v1", *, gen=1, status=None, replicas=2, extra=None):
    labels = {"app": "shop", "color": colour}
    containers = [{"name": "app", "image": image}, *(extra or [])]
    return {"metadata": {"name": f"shop-{colour}", "generation": gen, "resourceVersion": "7"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": containers}}},
            "status": status or {}}


# -- image flags and patches ------------------------------------------------------------------

def test_parse_images_with_and_without_container():
    assert spec.parse_images(["app=shop:v2", "side=registry:5000/log:1"]) == {
        "app": "shop:v2", "side": "registry:5000/log:1"}
    assert spec.parse_images(["shop:v2"]) == {"": "shop:v2"}


@pytest.mark.parametrize("bad", ["App=shop:v2", "app=", "app=a b", "x=1"])
def test_parse_images_rejects_bad_values(bad):
    values = [bad, "x=2"] if bad == "x=1" else [bad]
    with pytest.raises(ConfigError, match="--image"):
        spec.parse_images(values)


def test_image_without_container_needs_exactly_one_container():
    one = dep()
    assert spec.resolve_images({"": "shop:v2"}, one, "D") == {"app": "shop:v2"}
    two = dep(extra=[{"name": "side", "image": "log:1"}])
    with pytest.raises(InvalidInput, match="name the one"):
        spec.resolve_images({"": "shop:v2"}, two, "D")
    with pytest.raises(InvalidInput, match="no container 'web'"):
        spec.resolve_images({"web": "shop:v2"}, two, "D")


def test_template_patch_merges_images_env_and_the_users_patch_by_container_name():
    patch = spec.template_patch({"app": "shop:v2"}, {"MODE": "x"},
                                {"metadata": {"annotations": {"a": "1"}},
                                 "spec": {"containers": [{"name": "app", "args": ["-v"]}]}},
                                ["app", "side"])
    assert patch["metadata"] == {"annotations": {"a": "1"}}
    assert patch["spec"]["containers"] == [
        {"name": "app", "args": ["-v"], "image": "shop:v2",
         "env": [{"name": "MODE", "value": "x"}]},
        {"name": "side", "env": [{"name": "MODE", "value": "x"}]}]


def test_deployment_patch_carries_the_resource_version_precondition_and_replicas():
    body = spec.deployment_patch(dep(), {"spec": {"containers": []}}, 3)
    assert body == {"metadata": {"resourceVersion": "7"},
                    "spec": {"replicas": 3, "template": {"spec": {"containers": []}}}}


# -- template equality ------------------------------------------------------------------------

def test_same_template_ignores_the_colour_selector_label_only():
    assert template.same_template(dep("green", "shop:v1"), dep("blue", "shop:v1"))
    assert not template.same_template(dep("green", "shop:v2"), dep("blue", "shop:v1"))
    other = dep("green", "shop:v1")
    other["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
    assert not template.same_template(other, dep("blue", "shop:v1"))


# -- readiness (kubectl rollout status) -------------------------------------------------------

def cond(kind, status, reason):
    return {"type": kind, "status": status, "reason": reason, "message": f"{reason}."}


@pytest.mark.parametrize(("status", "gen", "done", "failed", "text"), [
    ({"observedGeneration": 1}, 2, False, False, "to be observed"),
    ({"observedGeneration": 2, "updatedReplicas": 1, "replicas": 3}, 2, False, False,
     "1 of 2 new replicas"),
    ({"observedGeneration": 2, "updatedReplicas": 2, "replicas": 3}, 2, False, False,
     "1 old replicas"),
    ({"observedGeneration": 2, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 1,
      "readyReplicas": 1}, 2, False, False, "1 of 2 updated replicas are available"),
    ({"observedGeneration": 2, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2,
      "readyReplicas": 2}, 2, True, False, "2/2 ready"),
    ({"observedGeneration": 2, "updatedReplicas": 1, "replicas": 3,
      "conditions": [cond("Progressing", "False", "ProgressDeadlineExceeded")]}, 2, False,
     True, "exceeded its progress deadline"),
])
def test_rollout_status_follows_kubectl(status, gen, done, failed, text):
    st = readiness.rollout_status(dep(gen=gen, status=status))
    assert (st.done, st.failed) == (done, failed)
    assert text in st.message


def test_a_progress_deadline_is_only_believed_once_the_generation_is_observed():
    status = {"observedGeneration": 1,
              "conditions": [cond("Progressing", "False", "ProgressDeadlineExceeded")]}
    assert not readiness.rollout_status(dep(gen=2, status=status)).failed


def test_wait_ready_reports_changes_and_times_out_with_the_last_status():
    now = [0.0]
    seen = []
    pending = dep(gen=2, status={"observedGeneration": 2, "updatedReplicas": 1,
                                 "replicas": 3})
    with pytest.raises(readiness.NotReady, match="ready timeout"):
        readiness.wait_ready(lambda: pending, timeout=5, on_progress=seen.append,
                             clock=lambda: now[0],
                             sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert len(seen) == 1 and seen[0].updated == 1


def test_wait_ready_returns_once_complete():
    states = iter([dep(gen=2, status={"observedGeneration": 1}),
                   dep(gen=2, status={"observedGeneration": 2, "updatedReplicas": 2,
                                      "replicas": 2, "readyReplicas": 2,
                                      "availableReplicas": 2})])
    seen = []
    st = readiness.wait_ready(lambda: next(states), timeout=5, on_progress=seen.append,
                              sleep=lambda s: None)
    assert st.done and [s.done for s in seen] == [False, True]


def test_conditions_reason_names_type_status_and_reason():
    d = dep(status={"conditions": [cond("Available", "True", "MinimumReplicasAvailable")]})
    assert readiness.conditions_reason(d).startswith("Available=True MinimumReplicasAvailable")


# -- pre-traffic commands ---------------------------------------------------------------------

def test_argv_without_and_with_a_shell():
    assert commands.argv_of("pytest -k 'a b'", False) == ["pytest", "-k", "a b"]
    assert commands.argv_of("echo $X | wc", True) == ["/bin/sh", "-c", "echo $X | wc"]
    with pytest.raises(ValueError):
        commands.argv_of("echo 'x", False)


def test_command_env_has_the_shifter_variables():
    env = commands.command_env({"PATH": "/bin"}, release="shop", namespace="demo",
                               colour="green", service="shop-green", url="http://g",
                               preview_url="http://i", preview_header="X-P: green")
    assert env["SHIFTER_NEW_COLOUR"] == "green" and env["SHIFTER_PREVIEW_HEADER"] == "X-P: green"
    assert env["PATH"] == "/bin"
    assert "SHIFTER_PREVIEW_URL" not in commands.command_env(
        {}, release="s", namespace="n", colour="c", service="s", url="u")


# -- preview routes ---------------------------------------------------------------------------

ROUTE = {"spec": {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                             "backendRefs": [{"name": "shop-blue", "port": 80, "weight": 100},
                                             {"name": "shop-green", "port": 80,
                                              "weight": 0}]}]}}


def test_gateway_preview_rule_matches_the_header_and_goes_to_the_new_colour_only():
    rule = preview.gateway_rule(ROUTE, 0, ROUTE["spec"]["rules"][0]["backendRefs"][1],
                                "X-Shifter-Preview", Colour.GREEN)
    assert rule == {"name": "shifter-preview",
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"},
                                 "headers": [{"type": "Exact", "name": "X-Shifter-Preview",
                                              "value": "green"}]}],
                    "backendRefs": [{"name": "shop-green", "port": 80}]}


def test_preview_ops_are_guarded_and_idempotent():
    rules = ROUTE["spec"]["rules"]
    item = {"name": "shifter-preview", "x": 1}
    ops = preview.add_ops(rules, "/spec/rules", item, first=False)
    assert ops == [{"op": "test", "path": "/spec/rules", "value": rules},
                   {"op": "add", "path": "/spec/rules/-", "value": item}]
    assert preview.add_ops([*rules, item], "/spec/rules", item, first=False) == []
    assert preview.remove_ops([*rules, item], "/spec/rules") == [
        {"op": "test", "path": "/spec/rules/1", "value": item},
        {"op": "remove", "path": "/spec/rules/1"}]
    assert preview.remove_ops(rules, "/spec/rules") == []
    assert preview.add_ops(rules, "/spec/http", item, first=True)[1]["path"] == "/spec/http/0"


def test_istio_preview_route_uses_lowercase_header_names():
    vs = {"spec": {"http": [{"name": "primary", "match": [{"uri": {"prefix": "/"}}],
                             "route": [{"destination": {"host": "shop-blue"}, "weight": 100},
                                       {"destination": {"host": "shop-green"}, "weight": 0}]}]}}
    route = preview.istio_route(vs, 0, {"host": "shop-green"}, "X-Shifter-Preview",
                                Colour.GREEN)
    assert route["match"] == [{"uri": {"prefix": "/"},
                               "headers": {"x-shifter-preview": {"exact": "green"}}}]
    assert route["route"] == [{"destination": {"host": "shop-green"}}]


def test_new_ready_counts_only_ready_pods_beyond_the_old_ones():
    crash = dep(gen=2, status={"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
                               "readyReplicas": 2, "availableReplicas": 2})
    assert readiness.rollout_status(crash).new_ready == 0
    unobserved = dep(gen=3, status={"observedGeneration": 2, "replicas": 2,
                                    "updatedReplicas": 2, "readyReplicas": 2})
    assert readiness.rollout_status(unobserved).new_ready == 0
    done = dep(gen=2, status={"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                              "readyReplicas": 2, "availableReplicas": 2})
    assert readiness.rollout_status(done).new_ready == 2


# -- config -----------------------------------------------------------------------------------

def test_release_config_fields_and_their_errors():
    from shifter.config import build_config

    cfg = build_config({"release": "shop", "deploy": {"images": {"app": "shop:v2"},
                                                      "ready_timeout": "30s"},
                        "pre_traffic": [{"run": "pytest", "timeout": "5m"}],
                        "preview": {"header": "X-Shifter-Preview"},
                        "smoke": [{"url": "http://x/", "headers": {"X-P": "{colour}"}}]})
    assert cfg.deploy.ready_timeout == 30 and cfg.deploy.changes_template
    assert cfg.pre_traffic[0].timeout == 300 and not cfg.pre_traffic[0].shell
    assert cfg.preview is not None and cfg.preview.url is None
    assert not build_config({"release": "shop"}).deploy.changes_template
    with pytest.raises(ConfigError, match=r"pre_traffic\[0\]\.run"):
        build_config({"release": "shop", "pre_traffic": [{"timeout": "5m"}]})
    with pytest.raises(ConfigError, match=r"deploy\.ready_timeout"):
        build_config({"release": "shop", "deploy": {"ready_timeout": "soon"}})
    with pytest.raises(ConfigError, match=r"preview\.header"):
        build_config({"release": "shop", "preview": {"header": "bad header"}})


def test_image_flags_become_config_overrides():
    from shifter.cli.run import release_overrides

    assert release_overrides(["app=shop:v2"], "1m", True) == {
        "deploy.images": {"app": "shop:v2"}, "deploy.ready_timeout": "1m",
        "deploy.allow_same": True}
    assert release_overrides(None, None, False) == {
        "deploy.images": None, "deploy.ready_timeout": None, "deploy.allow_same": None}


def test_nginx_router_accepts_only_the_preview_header_rule_to_the_canarys_own_colour():
    from shifter.routers.base import Target
    from shifter.routers.nginx import canary_view

    target = Target("demo", "shop", "shop-blue", "shop-green")
    prefix = "nginx.ingress.kubernetes.io/"

    def canary(**ann):
        return {"metadata": {"name": "shop-canary", "annotations": {
                    prefix + "canary": "true", prefix + "canary-weight": "0",
                    **{prefix + k.replace("_", "-"): v for k, v in ann.items()}}},
                "spec": {"rules": [{"host": "h", "http": {"paths": [{
                    "path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "shop-green", "port": {"number": 80}}}}]}}]}}

    ok = canary_view(canary(canary_by_header="X-Shifter-Preview",
                            canary_by_header_value="green"), target)
    assert ok.problem == "" and ok.percent == 0
    for other in (canary(canary_by_header="X-Shifter-Preview", canary_by_header_value="blue"),
                  canary(canary_by_header="X-Shifter-Preview"),
                  canary(canary_by_header="X-P", canary_by_header_value="green",
                         canary_by_cookie="c")):
        assert "header and cookie rules" in canary_view(other, target).problem
