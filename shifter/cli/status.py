"""``shifter status``: the recorded rollout of a release, from its Lease."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from shifter.cli.common import (
    ContextOpt,
    KubeconfigOpt,
    LogLevelOpt,
    NamespaceOpt,
    OutputOpt,
    check_output,
    connect,
    emit_json,
    exit_codes,
    resolve_namespace,
    setup_logging,
)


def describe(release: str, namespace: str, obj: dict[str, Any] | None) -> dict[str, Any]:
    """The status as plain data (what ``--output json`` prints)."""
    from shifter.durations import format_duration
    from shifter.lease import holder_of, request_of, state_of

    state = state_of(obj) or {}
    held = holder_of(obj) if obj else None
    now = time.time()
    at_step = now - float(state["step_started"]) if state.get("step_started") else None
    steps = state.get("steps") or []
    return {
        "release": release, "namespace": namespace,
        "phase": state.get("phase", "none" if obj is None else "idle"),
        "step": int(state["step"]) + 1 if "step" in state else None,
        "steps": steps, "weight": state.get("weight"),
        "new": state.get("new"), "live": state.get("live"),
        "holder": held[0] if held else None,
        "holding_since": held[1] if held else None,
        "at_step_for": format_duration(at_step) if at_step is not None and
        state.get("phase") in ("shifting", "paused") else None,
        "reason": state.get("reason") or None,
        "pending_request": (request_of(obj) or {}).get("action") if obj else None,
        "last_verdicts": (state.get("history") or [])[-5:],
        "version": state.get("version"),
    }


def live_split(client: Any, namespace: str, state: dict[str, Any]) -> dict[str, Any] | None:
    """How the router splits traffic right now (from the cluster, not the record)."""
    from shifter import wiring
    from shifter.config import build_config
    from shifter.errors import ShifterError
    from shifter.routers import share
    from shifter.routers.base import Colour

    if not state.get("router") or not state.get("services"):
        return None
    try:
        cfg = build_config({"release": state.get("release") or "x", "router": state["router"],
                            "services": state["services"]})
        split = wiring.make_router(cfg, client, wiring.make_target(cfg, namespace)).read()
    except ShifterError as exc:
        return {"error": str(exc)}
    return {c.value: share(split, c) for c in Colour}


def render_text(s: dict[str, Any]) -> str:
    lines = [f"release:  {s['namespace']}/{s['release']}",
             f"phase:    {s['phase']}" + (f" ({s['reason']})" if s["reason"] else "")]
    if s["steps"]:
        lines.append(f"step:     {s['step']}/{len(s['steps'])} of "
                     f"{','.join(map(str, s['steps']))}, {s['weight']}% on {s['new']}"
                     + (f", for {s['at_step_for']}" if s["at_step_for"] else ""))
    router = s.get("router_now")
    if router and "error" in router:
        lines.append(f"router:   cannot read: {router['error']}")
    elif router:
        lines.append("router:   " + ", ".join(
            f"{'?' if pct is None else pct}% {colour}" for colour, pct in router.items())
            + " (now)")
    from shifter.release.colours import render, render_deploy

    lines += (render(s["colours"]) if s.get("colours") else []) + (
        render_deploy(s["deploy"]) if s.get("deploy") else [])
    lines.append(f"holder:   {s['holder'] or '-'}")
    if s["pending_request"]:
        lines.append(f"request:  {s['pending_request']} (not yet acted on)")
    if s["last_verdicts"]:
        lines.append("last verdicts:")
        for v in s["last_verdicts"]:
            lines.append(f"  step {int(v['step']) + 1} at {v['weight']}%: {v['verdict']}"
                         + (f" - {v['reason']}" if v.get("reason") else ""))
    return "\n".join(lines)


def status(
    release: Annotated[str, typer.Argument(help="The release.")],
    *,
    namespace: NamespaceOpt = None,
    output: OutputOpt = "text",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    log_level: LogLevelOpt = "warning",
) -> None:
    """Show a release's rollout: phase, step, weight, holder and the last verdicts."""
    output = check_output(output)
    setup_logging(log_level)
    with exit_codes(output):
        from shifter.lease import read_record, state_of

        client = connect(kubeconfig, context)
        ns = resolve_namespace(namespace, None, client)
        record = read_record(client, release, ns)
        s = describe(release, ns, record)
        s["router_now"] = live_split(client, ns, {**(state_of(record) or {}),
                                                  "release": release})
        from shifter.release.colours import colours_now

        s["colours"] = colours_now(client, ns, {**(state_of(record) or {}), "release": release})
        s["deploy"] = (state_of(record) or {}).get("deploy")  # set before any traffic moves
        if output == "json":
            emit_json(s)
        else:
            print(render_text(s))
