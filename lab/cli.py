"""Command line of the lab.

::

    python -m lab up --dir DIR [--router nginx|gateway|istio|service] [--rps N]
    python -m lab fault --dir DIR COLOUR [--error-rate F] [--latency 300ms] [--hang]
                        [--no-metrics] [--healthz-fail] [--clear]
    python -m lab stats --dir DIR [--since T]
    python -m lab demo [ARGS...]

`up` runs until SIGINT or SIGTERM and then stops everything it started. `fault` and
`stats` talk to a running `up` through the addresses in ``DIR/lab.json``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from lab.controller import ROUTERS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description="shifter's lab")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the lab and run until SIGINT/SIGTERM")
    up.add_argument("--dir", type=Path, default=Path(".lab"), help="lab directory")
    up.add_argument("--router", choices=ROUTERS, default="nginx")
    up.add_argument("--rps", type=float, default=50.0, help="load generator rate")

    fault = sub.add_parser("fault", help="set faults on one colour's app")
    fault.add_argument("--dir", type=Path, default=Path(".lab"))
    fault.add_argument("colour", choices=("blue", "green"))
    fault.add_argument("--error-rate", type=float, help="fraction answered 500 (0..1)")
    fault.add_argument("--latency", help="added latency, e.g. 300ms")
    fault.add_argument("--hang", action="store_true", help="never answer until cleared")
    fault.add_argument("--no-metrics", action="store_true", help="/metrics answers 503")
    fault.add_argument("--healthz-fail", action="store_true", help="/healthz answers 500")
    fault.add_argument("--clear", action="store_true", help="clear faults first")

    stats = sub.add_parser("stats", help="requests users saw, as JSON")
    stats.add_argument("--dir", type=Path, default=Path(".lab"))
    stats.add_argument("--since", type=float, help="wall-clock seconds since the epoch")

    demo = sub.add_parser("demo", help="run the demo rollouts (lab.demo)")
    demo.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:  # its options are lab.demo's (argparse's REMAINDER drops them)
        return _demo(argv[1:])
    args = _parser().parse_args(argv)
    try:
        if args.command == "up":
            return _up(args)
        if args.command == "fault":
            return _fault(args)
        if args.command == "stats":
            return _stats(args)
        return _demo(args.args)
    except (ValueError, OSError, RuntimeError, TimeoutError) as exc:
        print(f"lab {args.command}: {exc}", file=sys.stderr)
        return 1


def _up(args: argparse.Namespace) -> int:
    from lab.core import Lab

    if args.rps < 0:
        raise ValueError(f"--rps: expected a number >= 0, got {args.rps}")
    stop = threading.Event()
    started = False

    def _signal(signum: int, frame: object) -> None:
        stop.set()
        if not started:  # interrupt start(); it stops what it had started
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    lab = Lab(args.dir, router=args.router, rps=args.rps)
    try:
        try:
            lab.start()
        except KeyboardInterrupt:
            print("lab up: interrupted while starting; stopped", file=sys.stderr)
            return 130
        started = True
        info = lab.info
        print(f"kubeconfig:     {info['kubeconfig']}", flush=True)
        print(f"prometheus:     {info['prometheus_url']}")
        print(f"ingress:        {info['ingress_url']}")
        print(f"router:         {info['router']} (namespace {info['namespace']}, "
              f"release {info['release']})")
        print(f"lab.json:       {lab.dir / 'lab.json'}")
        print(f"ready in {lab.timings['ready']:.1f}s; Ctrl-C stops everything", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        lab.stop()
    print("lab stopped", flush=True)
    return 0


def _read_info(directory: Path) -> dict[str, Any]:
    path = directory / "lab.json"
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(
            f"--dir: no lab.json in {directory} (is `python -m lab up` running?)"
        ) from None
    return info


def _fault(args: argparse.Namespace) -> int:
    from lab.core import post_fault
    from shifter.durations import parse_duration

    info = _read_info(args.dir)
    if args.error_rate is not None and not 0 <= args.error_rate <= 1:
        raise ValueError(f"--error-rate: expected a fraction 0..1, got {args.error_rate}")
    latency = None
    if args.latency is not None:
        try:
            latency = parse_duration(args.latency)
        except ValueError as exc:
            raise ValueError(f"--latency: {exc}") from exc
    body = {
        "clear": args.clear, "error_rate": args.error_rate, "latency": latency,
        "hang": True if args.hang else None,
        "no_metrics": True if args.no_metrics else None,
        "healthz_fail": True if args.healthz_fail else None,
    }
    result = post_fault(info["apps"][args.colour]["fault_url"], body)
    print(json.dumps({"colour": args.colour, "faults": result}))
    return 0


def _stats(args: argparse.Namespace) -> int:
    info = _read_info(args.dir)
    url = f"{info['control_url']}/stats"
    if args.since is not None:
        url += "?" + urllib.parse.urlencode({"since": args.since})
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            data = json.load(resp)
    except urllib.error.URLError as exc:
        raise RuntimeError(f"cannot reach the lab at {info['control_url']}: {exc.reason}") from exc
    data["now"] = time.time()
    print(json.dumps(data, indent=2))
    return 0


def _demo(argv: list[str]) -> int:
    try:
        from lab import demo  # type: ignore[attr-defined,unused-ignore]
    except ModuleNotFoundError as exc:
        if exc.name != "lab.demo":
            raise
        print("lab demo: lab/demo.py is not written yet", file=sys.stderr)
        return 1
    result = demo.main(argv)
    return int(result or 0)
