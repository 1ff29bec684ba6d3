"""``python -m lab demo`` (``make demo``): a healthy rollout promoted, a faulty one reverted.

Starts the lab, writes a shift.yaml for it, and runs the real ``shifter`` CLI twice as a
child process, streaming its output: first blue -> green with a healthy green (promoted,
exit 0), then green -> blue with 20% errors injected into blue (reverted, exit 3). Ends with
what the lab's users saw, by colour and status.
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


def shift_config(lab: Lab, *, router: str, new_colour: str, bake: str = "4s") -> dict[str, Any]:
    info = lab.info
    return {
        "release": info["release"],
        "namespace": info["namespace"],
        "router": {"kind": router},
        "steps": [10, 50, 100],
        "bake": bake,
        "interval": "1s",
        "step_deadline": "20s",
        "analysis": {"prometheus": info["prometheus_url"], "preset": "app",
                     "max_error_rate": 0.01, "max_latency_p99": "250ms",
                     "min_requests": 20},
        "smoke": [{"name": "healthz", "url": f"{info['apps'][new_colour]['url']}/healthz"}],
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
        common = ["--kubeconfig", info["kubeconfig"], "--log-level", "warning"]

        banner("rollout 1: a healthy green, expected to be promoted")
        cfg1 = workdir / "shift-green.yaml"
        cfg1.write_text(yaml.safe_dump(shift_config(lab, router=args.router,
                                                    new_colour="green")))
        rc1 = shifter(["run", info["release"], "-f", str(cfg1), *common])
        print(f"exit code {rc1} (expected 0: promoted)", flush=True)

        banner("rollout 2: back to blue, with 20% errors injected into blue: "
               "expected to be reverted")
        lab.fault("blue", error_rate=0.2)
        since = time.time()
        cfg2 = workdir / "shift-blue.yaml"
        cfg2.write_text(yaml.safe_dump(shift_config(lab, router=args.router,
                                                    new_colour="blue")))
        rc2 = shifter(["run", info["release"], "-f", str(cfg2), *common])
        print(f"exit code {rc2} (expected 3: rolled back)", flush=True)
        lab.fault("blue", clear=True)

        banner("what users saw during rollout 2 (by colour and status)")
        print(json.dumps(lab.stats(since), indent=2), flush=True)
    ok = rc1 == 0 and rc2 == 3
    banner("demo " + ("succeeded" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
