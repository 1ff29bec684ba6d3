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


def render_text(s: dict[str, Any]) -> str:
    lines = [f"release:  {s['namespace']}/{s['release']}",
             f"phase:    {s['phase']}" + (f" ({s['reason']})" if s["reason"] else "")]
    if s["steps"]:
        lines.append(f"step:     {s['step']}/{len(s['steps'])} of "
                     f"{','.join(map(str, s['steps']))}, {s['weight']}% on {s['new']}"
                     + (f", for {s['at_step_for']}" if s["at_step_for"] else ""))
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
        from shifter.lease import read_record

        client = connect(kubeconfig, context)
        ns = resolve_namespace(namespace, None, client)
        s = describe(release, ns, read_record(client, release, ns))
        if output == "json":
            emit_json(s)
        else:
            print(render_text(s))
