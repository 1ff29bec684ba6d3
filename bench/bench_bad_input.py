"""Malformed input: how long shifter takes to refuse it, and how much memory.

Each input of issue 13's defect 10 (and a few more) is given to the installed CLI in a
fresh process, ``shifter run shop -f FILE`` for configs and ``shifter status shop
--kubeconfig FILE`` for kubeconfigs, ``--runs`` times; a wrapper process reads the wall time
and the child's peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``). A valid ``--help`` is
the baseline: most of the time and memory is the interpreter and the imports.

    .venv/bin/python -m bench.bench_bad_input [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import distribution, print_tables, table, write_result
from bench.bench_cli import _WRAPPER, shifter_cmd


def billion_laughs(key: str) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    return "release: shop\n" + "\n".join(lines) + f"\n{key}: *j\n"


CONFIGS: dict[str, str | bytes] = {
    "billion laughs under steps": billion_laughs("steps"),
    "binary file": bytes(range(256)) * 64,
    "deeply nested (100k levels)": "release: shop\nrouter: " + "[" * 100_000 + "]" * 100_000,
    "bake: [1]": "release: shop\nbake: [1]\n",
    "bake: .inf": "release: shop\nbake: .inf\n",
    "interval: .nan": "release: shop\ninterval: .nan\n",
    "max_latency_p99: 500": "release: shop\nanalysis: {max_latency_p99: 500}\n",
    "duplicate key": "release: shop\nbake: 1m\nbake: 2m\n",
    "1 MiB + 1 file": "release: shop\n" + "#" * (1024 * 1024) + "\n",
}
KUBECONFIGS: dict[str, str | bytes] = {
    "kubeconfig: invalid YAML": "apiVersion: v1\nclusters: [\n",
    "kubeconfig: a YAML list": "- a\n- b\n",
    "kubeconfig: billion laughs": billion_laughs("users"),
}


def _measure(cmd: list[str], runs: int) -> dict[str, Any]:
    seconds, rss, codes = [], [], set()
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True,
                              text=True, check=True, timeout=120)
        one = json.loads(proc.stdout)
        seconds.append(one["seconds"])
        rss.append(one["maxrss_kib"] / 1024)
        codes.add(one["code"])
    return {"exit_codes": sorted(codes), "seconds": distribution(seconds),
            "peak_rss_mib": distribution(rss)}


def run(quick: bool = False, runs: int | None = None) -> dict[str, Any]:
    n = runs or (2 if quick else 5)
    base = shifter_cmd()
    results: dict[str, Any] = {"runs": n}
    with tempfile.TemporaryDirectory() as tmp:
        results["baseline: --help"] = _measure([*base, "--help"], n)
        for name, content in {**CONFIGS, **KUBECONFIGS}.items():
            path = Path(tmp) / "input.yaml"
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
            if name.startswith("kubeconfig"):
                cmd = [*base, "status", "shop", "--kubeconfig", str(path)]
            else:
                cmd = [*base, "run", "shop", "-f", str(path), "--kubeconfig",
                       str(Path(tmp) / "none")]
            results[name] = _measure(cmd, n)
    rows = [[name, ",".join(map(str, r["exit_codes"])), f"{r['seconds']['median']:.3f}",
             f"{r['seconds']['max']:.3f}", f"{r['peak_rss_mib']['max']:.1f}"]
            for name, r in results.items() if name != "runs"]
    results["tables"] = [table(f"malformed input refused ({n} runs each)",
                               ["input", "exit", "median s", "max s", "peak RSS MiB"], rows)]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(quick=args.quick, runs=args.runs)
    write_result("bad_input", result)
    print_tables(result)


if __name__ == "__main__":
    main()
