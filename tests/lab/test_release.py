"""``shifter run --image``: deploy to the idle colour, wait for it, then shift (the lab's
Deployments behave like the real controller's, see ``lab.deployments``)."""

from __future__ import annotations

import time

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

pytestmark = pytest.mark.lab


def _image(lab, colour: str) -> str:
    dep = lab.apiserver.store.get("apps/v1", "deployments", lab.namespace, f"shop-{colour}")
    return dep["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_image_promoted_then_faulty_image_reverted_then_crashloop_never_ready(lab, tmp_path):
    path = write_config(tmp_path, config(lab, lab.router, bake="2s", analysis=STRICT))

    first = shifter(lab, "run", "shop", "-f", str(path), "--image", "app=shop:v2")
    assert first.code == 0, first.stderr
    assert first.summary["outcome"] == "promoted"
    assert _image(lab, "green") == "shop:v2"
    assert first.of("deploy")[0]["images"] == {"app": "shop:v2"}
    ready = first.of("ready")
    assert ready[-1]["done"] and ready[-1]["ready"] == ready[-1]["desired"] == 2
    assert first.events.index(ready[-1]) < first.events.index(first.of("step")[0])
    wait_for_split(lab, {"green": 100.0})
    status = shifter(lab, "status", "shop")
    assert status.code == 0, status.stderr
    colours = status.events[0]["colours"]
    assert colours["live"] == {"colour": "green", "images": {"app": "shop:v2"}, "ready": 2,
                               "desired": 2, "traffic": 100}
    assert colours["idle"]["colour"] == "blue" and colours["idle"]["traffic"] == 0
    text = shifter(lab, "status", "shop", output="text")
    assert "live:     green (100% now): app=shop:v2, 2/2 ready" in text.stdout

    second = shifter(lab, "run", "shop", "-f", str(path), "--image", "app=shop:v3-err20")
    assert second.code == 3, second.stderr
    assert second.summary["outcome"] == "rolled_back"
    assert _image(lab, "blue") == "shop:v3-err20"
    assert [e["weight"] for e in second.of("step")] == [10]
    wait_for_split(lab, {"green": 100.0})

    since = time.time()
    third = shifter(lab, "run", "shop", "-f", str(path), "--image", "app=shop:v4-crashloop",
                    "--ready-timeout", "4s")
    assert third.code == 3, third.stderr
    assert "never became ready" in third.summary["reason"]
    assert "Progressing=True ReplicaSetUpdated" in third.summary["reason"]
    assert not third.of("step")
    after = wait_for_traffic(lab, since=since, requests=50)
    assert sum(after["by_colour"].get("blue", {}).values()) == 0, after


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_crashloop_reports_progress_deadline_exceeded(lab, tmp_path):
    path = write_config(tmp_path, config(lab, lab.router))
    result = shifter(lab, "run", "shop", "-f", str(path), "--image", "shop:v4-crashloop",
                     timeout=90)
    assert result.code == 3, result.stderr
    reason = result.summary["reason"]
    assert "exceeded its progress deadline" in reason
    assert "ProgressDeadlineExceeded" in reason
    assert not result.of("step")
    wait_for_split(lab, {"blue": 100.0})


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_live_colours_own_image_is_nothing_to_release(lab, tmp_path):
    path = write_config(tmp_path, config(lab, lab.router))
    before = resource_versions(lab)
    result = shifter(lab, "run", "shop", "-f", str(path), "--image",
                     f"app={_image(lab, 'blue')}")
    assert result.code == 2, result.stderr
    assert "nothing to release" in result.stderr
    assert resource_versions(lab) == before


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_dry_run_shows_the_deployment_patch_and_changes_nothing(lab, tmp_path):
    path = write_config(tmp_path, config(lab, lab.router,
                                         preview={"header": "X-Shifter-Preview"}))
    before = resource_versions(lab)
    result = shifter(lab, "run", "shop", "-f", str(path), "--image", "shop:v2", "--dry-run")
    assert result.code == 0, result.stderr
    deploy = [c for c in result.of("plan")[0]["changes"]
              if c["step"] == "deploy" and c["object"].startswith("deployments.apps/")]
    assert len(deploy) == 1
    body = deploy[0]["body"]
    assert body["spec"]["template"]["spec"]["containers"] == [{"name": "app",
                                                                "image": "shop:v2"}]
    assert body["spec"]["replicas"] == 2 and body["metadata"]["resourceVersion"]
    preview = [c for c in result.of("plan")[0]["changes"]
               if c["summary"].startswith("preview route")]
    assert [op["op"] for op in preview[0]["body"]] == ["test", "add"]
    assert resource_versions(lab) == before


def _patch_store(lab, plural, api_version, name, fn):
    store = lab.apiserver.store
    obj = store.get(api_version, plural, lab.namespace, name)
    fn(obj)
    obj["metadata"].pop("resourceVersion", None)
    store.put({k: v for k, v in obj.items() if k != "status"})


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_idle_colour_carrying_traffic_is_refused(lab, tmp_path):
    def ten_percent(route):
        refs = route["spec"]["rules"][0]["backendRefs"]
        refs[0]["weight"], refs[1]["weight"] = 90, 10

    _patch_store(lab, "httproutes", "gateway.networking.k8s.io/v1", "shop", ten_percent)
    wait_for_split(lab, {"blue": 90.0, "green": 10.0})
    before = resource_versions(lab)
    path = write_config(tmp_path, config(lab, lab.router))
    result = shifter(lab, "run", "shop", "-f", str(path), "--image", "shop:v2")
    assert result.code == 2, result.stderr
    assert "the idle colour green carries 10% of the traffic" in result.stderr
    assert resource_versions(lab) == before


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_without_image_the_same_template_check_and_the_readiness_wait_apply(lab, tmp_path):
    def image(value):
        def set_image(dep):
            dep["spec"]["template"]["spec"]["containers"][0]["image"] = value
        return set_image

    path = write_config(tmp_path, config(lab, lab.router))
    _patch_store(lab, "deployments", "apps/v1", "shop-green", image(_image(lab, "blue")))
    lab.deployments.wait_settled()
    same = shifter(lab, "run", "shop", "-f", str(path))
    assert same.code == 2 and "nothing to release" in same.stderr, same.stderr

    _patch_store(lab, "deployments", "apps/v1", "shop-green", image("shop:v9-crashloop"))
    never = shifter(lab, "run", "shop", "-f", str(path), "--ready-timeout", "2s")
    assert never.code == 3, never.stderr
    assert "never became ready" in never.summary["reason"]
    assert not never.of("step")
    wait_for_split(lab, {"blue": 100.0})


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_scaling_a_colour_to_zero_stops_its_app_and_scaling_up_starts_it(lab):
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{lab.app_ports['green']}/healthz"

    def scale(n):
        def set_replicas(dep):
            dep["spec"]["replicas"] = n
        return set_replicas

    _patch_store(lab, "deployments", "apps/v1", "shop-green", scale(0))
    lab.deployments.wait_settled()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
    status = lab.apiserver.store.get("apps/v1", "deployments", lab.namespace,
                                     "shop-green")["status"]
    assert "readyReplicas" not in status and "replicas" not in status
    _patch_store(lab, "deployments", "apps/v1", "shop-green", scale(2))
    lab.deployments.wait_settled()
    with urllib.request.urlopen(url, timeout=2) as resp:
        assert resp.status == 200
    status = lab.apiserver.store.get("apps/v1", "deployments", lab.namespace,
                                     "shop-green")["status"]
    assert status["readyReplicas"] == 2


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_killed_release_resumes_without_deploying_again(lab, tmp_path, monkeypatch):
    from tests.lab.cli import Running

    monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "2")
    path = write_config(tmp_path, config(lab, lab.router, bake="3s",
                                         preview={"header": "X-Shifter-Preview"}))
    run = Running(lab, "run", "shop", "-f", str(path), "--image", "app=shop:v2",
                  log_dir=tmp_path)
    run.wait_for_event(lambda e: e.get("event") == "step" and e.get("weight") == 50)
    run.kill()
    deadline = time.monotonic() + 15
    while True:  # the lock frees itself once the lease expires; until then exit 6
        other = shifter(lab, "run", "shop", "-f", str(path), "--image", "app=shop:v3")
        if other.code != 6 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert other.code == 2, other.stderr
    assert "would change what green runs" in other.stderr
    again = shifter(lab, "run", "shop", "-f", str(path), "--image", "app=shop:v2")
    assert again.code == 0, again.stderr
    assert not again.of("deploy")  # already deployed: the patch would change nothing
    assert [e["weight"] for e in again.of("step")] == [50, 100]
    assert _image(lab, "green") == "shop:v2"
    route = lab.apiserver.store.get("gateway.networking.k8s.io/v1", "httproutes",
                                    lab.namespace, "shop")
    assert [r.get("name") for r in route["spec"]["rules"]] == [None]
    wait_for_split(lab, {"green": 100.0})


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_the_lock_is_held_while_waiting_and_the_record_names_the_phase(lab, tmp_path,
                                                                       monkeypatch):
    from tests.lab.cli import Running

    monkeypatch.setenv("SHIFTER_LEASE_SECONDS", "2")
    path = write_config(tmp_path, config(lab, lab.router))
    run = Running(lab, "run", "shop", "-f", str(path), "--image", "shop:v4-crashloop",
                  "--ready-timeout", "8s", log_dir=tmp_path)
    try:
        first = run.wait_for_event(lambda e: e.get("event") == "ready", timeout=30)
        while time.time() < first["time"] + 3 * 2:  # three lease durations
            time.sleep(0.2)
        second = shifter(lab, "run", "shop", "-f", str(path), "--image", "shop:v5")
        assert second.code == 6, second.stderr  # still held: renewed while waiting
        status = shifter(lab, "status", "shop")
        deploy = status.events[0]["deploy"]
        assert deploy["phase"] == "waiting" and deploy["images"] == {"app": "shop:v4-crashloop"}
        result = run.wait(timeout=30)
    finally:
        run.kill()
    assert result.code == 3, result.stderr
    status = shifter(lab, "status", "shop", output="text")
    assert "deploy:   failed (green: app=shop:v4-crashloop): the new version never" in (
        status.stdout)


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_deploy_env_and_template_patch_reach_the_pod_template(lab, tmp_path):
    deploy = {"images": {"app": "shop:v2"}, "env": {"MODE": "fast"},
              "template_patch": {"metadata": {"annotations": {"release/id": "42"}}}}
    path = write_config(tmp_path, config(lab, lab.router, bake="1s", deploy=deploy))
    store = lab.apiserver.store
    gen = store.get("apps/v1", "deployments", lab.namespace, "shop-green")["metadata"][
        "generation"]
    result = shifter(lab, "run", "shop", "-f", str(path))
    assert result.code == 0, result.stderr
    dep = store.get("apps/v1", "deployments", lab.namespace, "shop-green")
    template = dep["spec"]["template"]
    assert template["metadata"]["annotations"] == {"release/id": "42"}
    assert template["metadata"]["labels"]["color"] == "green"  # merged, not replaced
    app = template["spec"]["containers"][0]
    assert app["image"] == "shop:v2" and app["env"] == [{"name": "MODE", "value": "fast"}]
    assert app["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert dep["metadata"]["generation"] == gen + 1
    assert dep["status"]["observedGeneration"] == gen + 1


@pytest.mark.parametrize("lab", ["gateway"], indirect=True)
def test_the_deployment_patch_is_refused_when_the_deployment_changed_since_read(lab):
    # A resourceVersion in a patch body is a precondition (409 Conflict when it differs),
    # as with the real API server (kubernetes/community, contributors/devel/sig-architecture/
    # api-conventions.md, "Concurrency Control and Consistency").
    from shifter.errors import Conflict
    from shifter.kube.client import ObjectRef, PatchType, load_client
    from shifter.release.spec import deployment_patch, template_patch

    client = load_client(kubeconfig=lab.info["kubeconfig"])
    ref = ObjectRef("apps/v1", "deployments", "Deployment", "shop-green", lab.namespace)
    read = client.get(ref)
    client.patch(ref, {"metadata": {"labels": {"team": "shop"}}}, PatchType.STRATEGIC)
    body = deployment_patch(read, template_patch({"app": "shop:v2"}, {}, None, ["app"]), 2)
    with pytest.raises(Conflict):
        client.patch(ref, body, PatchType.STRATEGIC)
    assert _image(lab, "green") != "shop:v2"
