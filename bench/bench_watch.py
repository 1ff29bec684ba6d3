"""The emulator's watch: how soon a change reaches a watcher, and `kubectl wait`.

``python bench/bench_watch.py [--quick]`` (PYTHONPATH at the repository root) prints a
table and writes ``bench/results/watch.json``:

- store write -> the event read by the official client's `watch.Watch` (HTTPS, one
  keep-alive watch), per write;
- a held Deployment released -> `kubectl wait --for=condition=Available` exits (kubectl
  started 1 s before the release, so its start-up is not counted).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import distribution, print_tables, table, write_result

KUBECTL = Path(sys.executable).parent / "kubectl"


def _watch_latency(srv: Any, kubeconfig: Path, n: int) -> list[float]:
    from kubernetes import client, config, watch

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    api = client.ApiClient(configuration)
    core = client.CoreV1Api(api)
    sent: dict[str, float] = {}
    got: list[float] = []
    rv = srv.store.create({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "w", "namespace": "default"},
                           "data": {"i": "-1"}})["metadata"]["resourceVersion"]

    def writer() -> None:
        for i in range(n):
            sent[str(i)] = time.perf_counter()
            srv.store.put({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "w", "namespace": "default"},
                           "data": {"i": str(i)}})
            time.sleep(0.01)

    w = watch.Watch()
    thread = threading.Thread(target=writer)
    thread.start()
    for ev in w.stream(core.list_namespaced_config_map, "default", resource_version=rv,
                       timeout_seconds=60):
        i = ev["object"].data["i"]
        if i in sent:
            got.append(time.perf_counter() - sent[i])
        if i == str(n - 1):
            w.stop()
    thread.join()
    api.close()
    return got


def _kubectl_wait(srv: Any, kubeconfig: Path, home: Path, runs: int) -> list[float]:
    from lab.apiserver import samples

    out = []
    for i in range(runs):
        name = f"shop-w{i}"
        srv.store.hold_deployment("default", name)
        srv.store.create(samples.deployment(name))
        proc = subprocess.Popen([str(KUBECTL), "--kubeconfig", str(kubeconfig), "wait",
                                 "--for=condition=Available", f"deployment/{name}",
                                 "--timeout=30s"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env={"HOME": str(home)})
        time.sleep(1.0)
        t0 = time.perf_counter()
        srv.store.hold_deployment("default", name, hold=False)
        proc.wait(30)
        out.append(time.perf_counter() - t0)
    return out


def run(quick: bool = False) -> dict[str, Any]:
    from lab.apiserver import APIServer

    with tempfile.TemporaryDirectory() as tmp, APIServer() as srv:
        kubeconfig = srv.write_kubeconfig(Path(tmp) / "kubeconfig")
        latency = _watch_latency(srv, kubeconfig, 50 if quick else 300)
        waits = _kubectl_wait(srv, kubeconfig, Path(tmp), 2 if quick else 5)
    result = {
        "watch_event_ms": distribution([x * 1000 for x in latency], 2),
        "kubectl_wait_after_ready_ms": distribution([x * 1000 for x in waits], 1),
    }
    result["tables"] = [table(
        "emulator watch", ["what", "n", "median", "p90", "max"],
        [[k, v["n"], v["median"], v["p90"], v["max"]] for k, v in result.items()
         if isinstance(v, dict)])]
    return result


if __name__ == "__main__":
    res = run(quick="--quick" in sys.argv)
    write_result("watch", res)
    print_tables(res)
    print(json.dumps({k: v for k, v in res.items() if k != "tables"}))
