"""CLI cost: start-up time, import time, and peak memory of a dry run.

- wall time of ``shifter --help`` and ``shifter validate --offline -f examples/gateway.yaml``
  (the installed entry point, each a fresh process), 20 runs each;
- import time in a fresh interpreter of ``shifter.cli.app`` against ``kubernetes`` (the
  design keeps the cluster client lazy), and whether importing the app pulls it in;
- peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` read by a wrapper process) of
  ``shifter run --dry-run`` against the lab (gateway router), with the lighter commands
  for comparison.

    .venv/bin/python -m bench.bench_cli [--quick] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench import distribution, print_tables, table, write_result

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "gateway.yaml"

_WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL,"
    " stderr=subprocess.DEVNULL).returncode\n"
    "took = time.perf_counter() - t\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'code': code, 'seconds': took, 'maxrss_kib': rss}))\n"
)

_IMPORT = (
    "import sys, time\n"
    "t = time.perf_counter()\n"
    "import {module}\n"
    "took = time.perf_counter() - t\n"
    "print(took, int('kubernetes' in sys.modules))\n"
)


def shifter_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "shifter"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("shifter")
    return [found] if found else [sys.executable, "-m", "shifter"]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.pop("GITHUB_STEP_SUMMARY", None)
    e.pop("KUBECONFIG", None)
    return e


def measured(cmd: list[str]) -> dict[str, Any]:
    """Run `cmd` under the wrapper: exit code, wall seconds and the child's peak RSS."""
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True,
                         text=True, check=True, env=env(), cwd=ROOT, timeout=120)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def startup(cmd: list[str], runs: int) -> dict[str, Any]:
    samples = [measured(cmd) for _ in range(runs)]
    codes = sorted({s["code"] for s in samples})
    return {"codes": codes,
            "ms": distribution([s["seconds"] * 1000 for s in samples], 1),
            "maxrss_mib": round(max(s["maxrss_kib"] for s in samples) / 1024, 1)}


def import_time(module: str, runs: int) -> dict[str, Any]:
    times, pulls = [], 0
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _IMPORT.format(module=module)],
                             capture_output=True, text=True, check=True, cwd=ROOT, env=env())
        took, heavy = out.stdout.split()
        times.append(float(took) * 1000)
        pulls += int(heavy)
    return {"ms": distribution(times, 1), "imports_kubernetes": pulls == runs}


def loads_kubernetes(args: list[str]) -> bool:
    """Whether ``python -m shifter ARGS`` imports the ``kubernetes`` package at all."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "shifter", *args],
                         capture_output=True, text=True, check=False, cwd=ROOT, env=env())
    return any(line.rstrip().endswith("| kubernetes") for line in out.stderr.splitlines())


def dry_run_rss(runs: int) -> dict[str, Any]:
    from lab.core import Lab

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp, \
            Lab(Path(tmp) / "lab", router="gateway", rps=20) as lab:
        cfg = Path(tmp) / "shift.yaml"
        cfg.write_text(yaml.safe_dump({
            "release": lab.release, "namespace": lab.namespace, "router": {"kind": "gateway"},
            "analysis": {"prometheus": lab.info["prometheus_url"], "preset": "app",
                         "min_requests": 20},
        }))
        cmd = [*shifter_cmd(), "run", lab.release, "-f", str(cfg), "--dry-run",
               "--kubeconfig", lab.info["kubeconfig"], "--output", "json"]
        samples = [measured(cmd) for _ in range(runs)]
    rss = [s["maxrss_kib"] / 1024 for s in samples]
    return {"codes": sorted({s["code"] for s in samples}),
            "maxrss_mib": distribution(rss, 1),
            "ms": distribution([s["seconds"] * 1000 for s in samples], 1)}


def run(*, quick: bool = False, runs: int | None = None) -> dict[str, Any]:
    n = runs or (10 if quick else 20)
    base = shifter_cmd()
    t0 = time.monotonic()
    help_ = startup([*base, "--help"], n)
    validate = startup([*base, "validate", "--offline", "-f", str(EXAMPLE)], n)
    bare = startup([sys.executable, "-c", "pass"], n)
    imports = {m: import_time(m, max(5, n // 2))
               for m in ("shifter.cli.app", "kubernetes", "kubernetes.client")}
    lazy = {"--help": loads_kubernetes(["--help"]),
            "validate --offline": loads_kubernetes(["validate", "--offline", "-f",
                                                     str(EXAMPLE)])}
    dry = dry_run_rss(2 if quick else 5)
    rows = [
        ["python -c pass", bare["ms"]["median"], bare["ms"]["p90"], bare["maxrss_mib"]],
        ["shifter --help", help_["ms"]["median"], help_["ms"]["p90"], help_["maxrss_mib"]],
        ["shifter validate --offline", validate["ms"]["median"], validate["ms"]["p90"],
         validate["maxrss_mib"]],
        ["shifter run --dry-run (lab)", dry["ms"]["median"], dry["ms"]["p90"],
         dry["maxrss_mib"]["max"]],
    ]
    import_rows = [[m, d["ms"]["median"], d["ms"]["p90"], "yes" if d["imports_kubernetes"]
                    else "no"] for m, d in imports.items()]
    import_rows += [[f"(shifter {cmd})", None, None, "yes" if pulled else "no"]
                    for cmd, pulled in lazy.items()]
    return {
        "name": "cli", "date": time.strftime("%Y-%m-%d"), "runs": n,
        "seconds": round(time.monotonic() - t0, 1),
        "help": help_, "validate_offline": validate, "python_bare": bare,
        "imports": imports, "commands_load_kubernetes": lazy, "dry_run": dry,
        "tables": [
            table(f"CLI: wall time of a fresh process ({n} runs; dry run: "
                  f"{dry['ms']['n']}) and peak RSS",
                  ["command", "median ms", "p90 ms", "max RSS MiB"], rows),
            table("imports in a fresh interpreter",
                  ["module", "median ms", "p90 ms", "kubernetes loaded"], import_rows),
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=None, help="runs per command (20)")
    args = parser.parse_args()
    result = run(quick=args.quick, runs=args.runs)
    write_result("cli", result)
    print_tables(result)


if __name__ == "__main__":
    main()
