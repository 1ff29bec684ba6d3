"""``python -m lab demo`` (``make demo``): from an image to traffic in one command, three times.

Starts the lab (blue live, running ``registry.lab/shop:blue``), writes a shift.yaml for it
and runs the real ``shifter`` CLI as a child process, streaming its output:

1. ``--image app=shop:v2``: deployed to green, waited for, tested through the preview
   route (a ``pre_traffic`` command sends requests with ``X-Shifter-Preview: green`` through
   the ingress while green has 0% of the traffic), shifted 10/50/100% and promoted (exit 0);
2. ``--image app=shop:v3-err20``: deployed to blue (now the idle colour), fails 20% of its
   requests and is reverted at its first step (exit 3), green keeps serving;
3. ``--image app=shop:v4-crashloop``: never becomes ready (the Deployment's
   ``ProgressDeadlineExceeded``), exit 3 with no traffic moved.

Ends with what the lab's users saw, by colour and status.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from lab.core import Lab

# The pre-traffic check: 20 requests with the preview header through the ingress must all
# reach the new colour (any status: the SLOs are judged on real traffic afterwards).
PREVIEW_CHECK = """\
import os, sys, urllib.error, urllib.request
name, value = os.environ["SHIFTER_PREVIEW_HEADER"].split(": ", 1)
seen = {}
for _ in range(20):
    req = urllib.request.Request(os.environ["SHIFTER_PREVIEW_URL"] + "/", headers={name: value})
    try:
        resp = urllib.request.urlopen(req, timeout=5)
    except urllib.error.HTTPError as exc:
        resp = exc
    key = f"{resp.headers['X-Colour']} {resp.headers.get('X-Version')} HTTP {resp.status}"
    seen[key] = seen.get(key, 0) + 1
    resp.close()
print(f"20 requests with '{name}: {value}' through the ingress reached: {seen}")
colours = {k.split()[0] for k in seen}
sys.exit(0 if colours == {os.environ["SHIFTER_NEW_COLOUR"]} else 1)
"""


def shift_config(lab: Lab, *, router: str, check: Path, bake: str = "4s") -> dict[str, Any]:
    info = lab.info
    routers = {"istio": {"kind": "istio", "route": "primary"}}
    return {
        "release": info["release"],
        "namespace": info["namespace"],
        "router": routers.get(router, {"kind": router}),
        "steps": [10, 50, 100],
        "bake": bake,
        "interval": "1s",
        "step_deadline": "20s",
        "analysis": {"prometheus": info["prometheus_url"], "preset": "app",
                     "max_error_rate": 0.01, "max_latency_p99": "250ms",
                     "min_requests": 40},
        "preview": {"header": "X-Shifter-Preview", "url": info["ingress_url"]},
        "deploy": {"ready_timeout": "60s"},
        "pre_traffic": [{"name": "preview", "run": f"{sys.executable} {check}",
                         "timeout": "30s"}],
    }


def shifter(args: list[str]) -> int:
    """Run the real CLI, its output going straight to ours."""
    cmd = [sys.executable, "-m", "shifter", *args]
    print(f"$ shifter {' '.join(args)}", flush=True)
    return subprocess.run(cmd, check=False).returncode


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab demo")
    parser.add_argument("--router", default="gateway",
                        choices=("nginx", "gateway", "istio", "service"))
    parser.add_argument("--dir", type=Path, default=None, help="lab directory (default: temp)")
    parser.add_argument("--rps", type=float, default=50.0)
    args = parser.parse_args(argv)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="shifter-demo-"))
    banner(f"starting the lab in {workdir} (router {args.router})")
    t0 = time.monotonic()
    with Lab(workdir, router=args.router, rps=args.rps) as lab:
        info = lab.info
        print(f"ready in {time.monotonic() - t0:.1f}s: kubeconfig {info['kubeconfig']}, "
              f"Prometheus {info['prometheus_url']}, ingress {info['ingress_url']}", flush=True)
        check = workdir / "preview_check.py"
        check.write_text(PREVIEW_CHECK)
        cfg = workdir / "shift.yaml"
        cfg.write_text(yaml.safe_dump(shift_config(lab, router=args.router, check=check)))
        common = ["-f", str(cfg), "--kubeconfig", info["kubeconfig"], "--log-level", "warning"]
        rel = info["release"]

        banner("release 1: shop:v2 to the idle colour (green), previewed, shifted: "
               "expected to be promoted")
        rc1 = shifter(["run", rel, "--image", "app=shop:v2", *common])
        print(f"exit code {rc1} (expected 0: promoted)", flush=True)

        banner("release 2: shop:v3-err20 (fails 20% of requests) to blue, now idle: "
               "expected to be reverted at its first step")
        since = time.time()
        rc2 = shifter(["run", rel, "--image", "app=shop:v3-err20", *common])
        print(f"exit code {rc2} (expected 3: rolled back)", flush=True)

        banner("release 3: shop:v4-crashloop to blue: expected never to become ready, "
               "no traffic moved")
        since3 = time.time()
        rc3 = shifter(["run", rel, "--image", "app=shop:v4-crashloop", *common])
        print(f"exit code {rc3} (expected 3: never ready)", flush=True)
        during3 = lab.stats(since3)

        banner("what users saw during releases 2 and 3 (by colour and status)")
        print(json.dumps(lab.stats(since), indent=2), flush=True)
    blue3 = sum(during3["by_colour"].get("blue", {}).values())
    print(f"requests served by blue during release 3: {blue3} (expected 0)", flush=True)
    ok = (rc1, rc2, rc3) == (0, 3, 3) and blue3 == 0
    banner("demo " + ("succeeded" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
