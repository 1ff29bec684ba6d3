"""Traffic through HAProxy follows the router objects edited through the API emulator.

Each test edits the router object as a user would (official `kubernetes` client or
`kubectl`, over HTTPS), waits (deadline: one second, as the lab promises) until the lab
controller programmed the new split, then measures the split over requests of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab.core import Lab
from lab.routing import CANARY, CANARY_WEIGHT
from lab.testing import kube_client, measure_split

pytestmark = pytest.mark.lab

FOLLOW = 1.0  # seconds: the split follows an edit within a second
N = 400  # requests per measurement


def assert_split(lab: Lab, green: float, tolerance: float) -> None:
    """Programmed split is exactly `green`; the measured one is within `tolerance` points."""
    assert lab.controller is not None
    lab.controller.wait_for({"blue": 100.0 - green, "green": green}, timeout=FOLLOW)
    measured = measure_split(lab.info["ingress_url"], N)
    assert set(measured) <= {"blue", "green"}, measured
    if tolerance == 0:
        assert measured.get("green", 0.0) == green, measured
    else:
        assert abs(measured.get("green", 0.0) - green) <= tolerance, measured


def canary_ingress(weight: int) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "shop-canary",
                     "annotations": {CANARY: "true", CANARY_WEIGHT: str(weight)}},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "shop.demo.lab", "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "shop-green", "port": {"number": 80}}},
            }]}}],
        },
    }


def test_nginx_canary_weight_moves_traffic(lab_nginx: Lab) -> None:
    from kubernetes import client

    lab = lab_nginx
    with kube_client(lab.info["kubeconfig"]) as api:
        net = client.NetworkingV1Api(api)
        assert_split(lab, 0.0, 0)
        net.create_namespaced_ingress("demo", canary_ingress(10))
        assert_split(lab, 10.0, 5)
        net.patch_namespaced_ingress(
            "shop-canary", "demo", {"metadata": {"annotations": {CANARY_WEIGHT: "50"}}}
        )
        assert_split(lab, 50.0, 8)
        # Promote as shifter does: main Ingress to green, then the canary weight to 0.
        net.patch_namespaced_ingress(
            "shop", "demo",
            [{"op": "replace", "path": "/spec/rules/0/http/paths/0/backend/service/name",
              "value": "shop-green"}],
        )
        net.patch_namespaced_ingress(
            "shop-canary", "demo", {"metadata": {"annotations": {CANARY_WEIGHT: "0"}}}
        )
        assert_split(lab, 100.0, 0)


def _patch_weights(api: Any, group: str, plural: str, paths: tuple[str, str],
                   blue: int, green: int) -> None:
    from kubernetes import client

    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        group, "v1", "demo", plural, "shop",
        [{"op": "replace", "path": paths[0], "value": blue},
         {"op": "replace", "path": paths[1], "value": green}],
        _content_type="application/json-patch+json",
    )


@pytest.mark.parametrize(
    ("fixture", "group", "plural", "paths"),
    [
        ("lab_gateway", "gateway.networking.k8s.io", "httproutes",
         ("/spec/rules/0/backendRefs/0/weight", "/spec/rules/0/backendRefs/1/weight")),
        ("lab_istio", "networking.istio.io", "virtualservices",
         ("/spec/http/0/route/0/weight", "/spec/http/0/route/1/weight")),
    ],
)
def test_weighted_route_moves_traffic(
    request: pytest.FixtureRequest, fixture: str, group: str, plural: str,
    paths: tuple[str, str],
) -> None:
    lab: Lab = request.getfixturevalue(fixture)
    with kube_client(lab.info["kubeconfig"]) as api:
        assert_split(lab, 0.0, 0)
        _patch_weights(api, group, plural, paths, 90, 10)
        assert_split(lab, 10.0, 5)
        _patch_weights(api, group, plural, paths, 50, 50)
        assert_split(lab, 50.0, 8)
        _patch_weights(api, group, plural, paths, 0, 100)
        assert_split(lab, 100.0, 0)


def test_httproute_all_zero_weights_answer_503(lab_gateway: Lab) -> None:
    lab = lab_gateway
    with kube_client(lab.info["kubeconfig"]) as api:
        _patch_weights(api, "gateway.networking.k8s.io", "httproutes",
                       ("/spec/rules/0/backendRefs/0/weight",
                        "/spec/rules/0/backendRefs/1/weight"), 0, 0)
    assert lab.controller is not None
    lab.controller.wait_for({"blue": 0.0, "green": 0.0, "void": 100.0}, timeout=FOLLOW)
    assert measure_split(lab.info["ingress_url"], 20) == {"status:503": 100.0}


def test_service_selector_flip_with_kubectl(lab_service: Lab) -> None:
    lab = lab_service
    kubectl = Path(sys.executable).parent / "kubectl"
    env = {**os.environ, "KUBECONFIG": lab.info["kubeconfig"]}
    assert_split(lab, 0.0, 0)
    subprocess.run(
        [str(kubectl), "-n", "demo", "patch", "service", "shop", "--type=merge",
         "-p", '{"spec":{"selector":{"color":"green"}}}'],
        check=True, env=env, capture_output=True, timeout=30,
    )
    assert_split(lab, 100.0, 0)
