"""The pre-flight access review (shifter/access.py): the time it adds to a run's pre-flight.

The lab's API emulator over HTTPS, the runner's shipped nginx Role (the most reviews: patch
both Ingresses, create the canary, create and update the Lease, patch both Deployments,
create Events: 8), a bearer-token user as in the RBAC lab test. Per trial ``access.review``
of that plan, with the reviews sent concurrently (as shipped) and one after the other,
each on a fresh client (``cold``: every connection's TLS handshake included, as in a
run, where the review comes first after a few reads) and on a warm one; and with 20 ms
added to every review (a real cluster's round trip) by the emulator's latency fault.

``python -m bench.bench_access [--trials 30]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import distribution, print_tables, table, write_result

USER = "system:serviceaccount:demo:shifter"
TOKEN = "bench-access-token"  # lab-only


def _plan(ns: str) -> list[Any]:
    from shifter import access
    from shifter.kube.client import ObjectRef

    canary = ObjectRef("networking.k8s.io/v1", "ingresses", "Ingress", "shop-canary", ns)
    lease = ObjectRef("coordination.k8s.io/v1", "leases", "Lease", "shifter-shop", ns)
    return ([access.Access("patch", canary), access.Access("patch", canary.named("shop")),
             access.Access("create", canary)] + access.lease_writes(lease, exists=False)
            + access.deployment_writes(ns, ("shop-blue", "shop-green"))
            + access.event_writes(ns))


def _sequential(client: Any, plan: list[Any]) -> None:
    from shifter import access

    api = access._bounded(client)
    for a in plan:
        access._ask(api, a)


def run(quick: bool = False, trials: int | None = None) -> dict[str, Any]:
    from lab.apiserver import APIServer
    from shifter import access
    from shifter.kube.client import load_client
    from tests.contract.test_manifests import render_roles

    n = trials or (10 if quick else 30)
    server = APIServer()
    server.start()
    rows, raw = [], {}
    try:
        server.store.create({"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": "demo"}})
        server.authorizer.enabled = True
        server.add_token(TOKEN, USER)
        server.set_rules(USER, render_roles("nginx")[0]["rules"], namespace="demo")
        with tempfile.TemporaryDirectory() as tmp:
            kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig", token=TOKEN,
                                                 namespace="demo")
            plan = _plan("demo")
            warm = load_client(kubeconfig=str(kubeconfig))
            assert access.review(warm, plan) == len(plan)  # every write allowed
            for latency in (0.0, 0.02):
                server.faults.clear()
                if latency:
                    server.faults.set(resource="selfsubjectaccessreviews", latency=latency)
                for mode, fn in (("concurrent", access.review), ("sequential", _sequential)):
                    for state in ("cold", "warm"):
                        times = []
                        for _ in range(n):
                            client = warm if state == "warm" else load_client(
                                kubeconfig=str(kubeconfig))
                            start = time.perf_counter()
                            fn(client, plan)
                            times.append((time.perf_counter() - start) * 1000)
                        key = f"{mode} {state} +{latency * 1000:.0f}ms"
                        raw[key] = times
                        d = distribution(times, 1)
                        rows.append([mode, state, f"{latency * 1000:.0f} ms", d["n"],
                                     d["min"], d["median"], d["p90"], d["max"]])
    finally:
        server.stop()
    return {"trials": n, "reviews": len(_plan("demo")), "raw_ms": raw, "tables": [
        table(f"pre-flight access review of {len(_plan('demo'))} writes (nginx runner Role), "
              f"ms", ["reviews", "client", "added latency", "n", "min", "median", "p90",
                      "max"], rows)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=None, help="trials per row (30)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(quick=args.quick, trials=args.trials)
    write_result("access", result)
    print_tables(result)


if __name__ == "__main__":
    main()
