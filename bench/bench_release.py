"""Benchmark the lab's Deployments: image change to complete rollout, as shifter sees it.

    .venv/bin/python bench/bench_release.py [--trials 10]

Changes the idle colour's image (strategic-merge patch through the API server, as
``shifter run --image`` does) and times until ``shifter.release.readiness`` calls the
rollout complete, and until the app answers as the new version. Prints one JSON object
(and writes it to bench/results/release.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from lab.core import Lab
from shifter.kube.client import ObjectRef, PatchType, load_client
from shifter.release.readiness import rollout_status


def one(lab: Lab, client: Any, image: str) -> dict[str, float]:
    ref = ObjectRef("apps/v1", "deployments", "Deployment", "shop-green", lab.namespace)
    body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    start = time.perf_counter()
    client.patch(ref, body, PatchType.STRATEGIC)
    while not rollout_status(client.get(ref)).done:
        time.sleep(0.02)
    ready = time.perf_counter() - start
    url = f"http://127.0.0.1:{lab.app_ports['green']}/"
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.headers["X-Version"] == image
    return {"ready_s": ready}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    with Lab(Path(tempfile.mkdtemp(prefix="bench-release-")), router="gateway") as lab:
        client = load_client(kubeconfig=lab.info["kubeconfig"])
        times = [one(lab, client, f"shop:v{i}")["ready_s"] for i in range(args.trials)]
    out = {"trials": args.trials, "replicas": 2,
           "image_to_ready_s": {"median": round(statistics.median(times), 3),
                                "min": round(min(times), 3), "max": round(max(times), 3)}}
    print(json.dumps(out, indent=2))
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "release.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
