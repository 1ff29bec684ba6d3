"""Benchmark the lab: start-to-ready time, weight-change latency, split accuracy.

    .venv/bin/python bench/bench_lab_split.py [--requests 2000]

Prints one JSON object (and writes it to bench/results/lab_split.json).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lab.core import Lab
from lab.testing import kube_client, measure_split


def first_green_after_flip(lab: Lab) -> float:
    """Seconds from `set weight` (blue 0, green 256) to the first answer from green."""
    assert lab.haproxy is not None
    port = lab.haproxy.ingress_port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        lab.haproxy.set_weights({"blue": 256, "green": 0})
        start = time.perf_counter()
        lab.haproxy.set_weights({"blue": 0, "green": 256})
        while True:
            conn.request("GET", "/")
            resp = conn.getresponse()
            resp.read()
            if resp.getheader("X-Colour") == "green":
                return time.perf_counter() - start
    finally:
        conn.close()


def api_edit_to_programmed(lab: Lab, api: Any, green: int) -> float:
    """Milliseconds from a JSON patch of the HTTPRoute to HAProxy programmed by the controller."""
    from kubernetes import client

    assert lab.controller is not None
    gen = lab.controller.generation
    start = time.perf_counter()
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", "demo", "httproutes", "shop",
        [{"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 100 - green},
         {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": green}],
        _content_type="application/json-patch+json",
    )
    while lab.controller.generation == gen:
        time.sleep(0.0005)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, Lab(Path(tmp), router="gateway") as lab:
        out["start_to_ready_s"] = round(lab.timings["ready"], 2)
        out["timings_s"] = {k: round(v, 3) for k, v in lab.timings.items()}
        assert lab.haproxy is not None and lab.controller is not None
        flips = [first_green_after_flip(lab) * 1000 for _ in range(20)]
        out["haproxy_set_weight_to_first_green_ms"] = {
            "median": round(statistics.median(flips), 2), "max": round(max(flips), 2)}
        lab.reseed("gateway")
        edits = []
        with kube_client(lab.info["kubeconfig"]) as api:
            for i in range(20):
                edits.append(api_edit_to_programmed(lab, api, 10 if i % 2 else 50))
            lab.reseed("gateway")
            accuracy = {}
            for green in (10, 50, 100):
                api_edit_to_programmed(lab, api, green)
                measured = measure_split(lab.info["ingress_url"], args.requests)
                accuracy[f"{green}%"] = round(measured.get("green", 0.0), 2)
        out["api_patch_to_haproxy_programmed_ms"] = {
            "median": round(statistics.median(edits), 2), "max": round(max(edits), 2)}
        lat = lab.controller.set_latencies
        out["haproxy_set_weights_call_ms"] = {
            "median": round(statistics.median(lat) * 1000, 3),
            "max": round(max(lat) * 1000, 3)}
        out["split_green_percent_over_requests"] = {"requests": args.requests, **accuracy}
        stop_start = time.monotonic()
    out["stop_s"] = round(time.monotonic() - stop_start, 2)
    text = json.dumps(out, indent=2)
    print(text)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "lab_split.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
