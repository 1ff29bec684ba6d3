"""``shifter status``: the recorded rollout of a release, from its Lease."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from shifter.cli.common import (
    ContextOpt,
    KubeconfigOpt,
    LogFormatOpt,
    LogLevel,
    LogLevelOpt,
    NamespaceOpt,
    Output,
    RequestTimeoutOpt,
    connect,
    emit_json,
    exit_codes,
    resolve_namespace,
    setup_logging,
)
from shifter.cli.options import OutputOpt, ReleaseArg, duration
from shifter.durations import format_duration
from shifter.errors import ShifterError


def describe(release: str, namespace: str, obj: dict[str, Any] | None) -> dict[str, Any]:
    """The status as plain data (what ``--output json`` prints)."""
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
        "last_verdicts": [{**v, "step": int(v["step"]) + 1} if "step" in v else v
                          for v in (state.get("history") or [])[-5:]],
        "version": state.get("version"),
        "watch_left": _left(state.get("watch_until"), now, state, "watching"),
        "approval_left": _left(state.get("approval_until"), now, state, "awaiting_approval"),
        "aftercare": state.get("aftercare"),
    }


def _left(until: Any, now: float, state: dict[str, Any], phase: str) -> float | None:
    """Seconds left of a watch or a gate (in that phase only)."""
    if state.get("phase") != phase or not isinstance(until, int | float):
        return None
    return round(max(0.0, until - now), 1)


def _clock(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def live_split(client: Any, namespace: str, state: dict[str, Any]) -> dict[str, Any] | None:
    """How the router splits traffic right now (from the cluster, not the record): each
    colour's percent (``_live``: the colour the router treats as live)."""
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
    return {**{c.value: share(split, c) for c in Colour}, "_live": split.live.value}


def add_router_now(s: dict[str, Any], split: dict[str, Any] | None) -> None:
    """``router_now`` (percent per colour) and ``live_now``/``idle_now``: the colours as the
    router has them now (the record's ``live``/``new`` are those of the last rollout)."""
    live = (split or {}).pop("_live", None)
    s["router_now"] = split
    s["live_now"] = live
    s["idle_now"] = ({"blue": "green", "green": "blue"}.get(live) if live else None)


def render_text(s: dict[str, Any]) -> str:
    lines = [f"release:  {s['namespace']}/{s['release']}",
             f"phase:    {s['phase']}" + (f" ({s['reason']})" if s["reason"] else "")]
    if s["steps"]:
        lines.append(f"step:     {s['step']}/{len(s['steps'])} of "
                     f"{','.join(map(str, s['steps']))}, {s['weight']}% on {s['new']}"
                     + (f", for {s['at_step_for']}" if s["at_step_for"] else ""))
    if s.get("watch_left") is not None:
        lines.append(f"watching: {format_duration(s['watch_left'])} left of the watch after "
                     f"the promotion (a failure flips all traffic back)")
    if s.get("approval_left") is not None:
        lines.append(f"gate:     awaiting approval ('shifter approve {s['release']}'), "
                     f"reverted in {format_duration(s['approval_left'])} without an answer")
    care = s.get("aftercare")
    if care and not care.get("done"):
        lines.append(f"aftercare: {care['deployment']} ({care['colour']}) is scaled to "
                     f"{care['to']} at {_clock(care['due'])} ('shifter cleanup' does it "
                     f"when due)")
    router = s.get("router_now")
    if router and "error" in router:
        lines.append(f"router:   cannot read: {router['error']}")
    elif router:
        lines.append("router:   " + ", ".join(
            f"{'?' if pct is None else pct}% {colour}"
            for colour, pct in router.items())
            + f" (now; live {s['live_now']}, idle {s['idle_now']})")
    from shifter.release.colours import render, render_deploy

    lines += (render(s["colours"]) if s.get("colours") else []) + (
        render_deploy(s["deploy"]) if s.get("deploy") else [])
    lines.append(f"holder:   {s['holder'] or '-'}")
    if s["pending_request"]:
        lines.append(f"request:  {s['pending_request']} (not yet acted on)")
    if s["last_verdicts"]:
        lines.append("last verdicts:")
        for v in s["last_verdicts"]:
            lines.append(f"  step {v.get('step', '?')} at {v['weight']}%: {v['verdict']}"
                         + (f" - {v['reason']}" if v.get("reason") else ""))
    return "\n".join(lines)


WaitFlag = Annotated[bool, typer.Option(
    "--wait", help="Block until the rollout is final; exit with its exit code "
                   "(0 promoted, 3 rolled back, 4 aborted or held, 5 failed).")]
TimeoutOpt = Annotated[float | None, typer.Option(
    "--timeout", metavar="DURATION", parser=duration, show_default=False,
    help="With --wait: give up after this long (e.g. 10m, 1m30s) and exit 5 "
         "(default: wait as long as it takes).")]

# Lease durations with no holder and no final phase after which the run is taken to be
# gone (10 x 15 s: longer than a Job's first back-offs, 10 s + 20 s + 40 s, before a
# replacement pod resumes the rollout).
STALLED_AFTER = 10


def not_found(release: str, ns: str) -> ShifterError:
    """Like kubectl's NotFound: one line, exit 1."""
    err = ShifterError(f'release "{release}" not found in namespace {ns}: no rollout is '
                       f"recorded (no Lease shifter-{release})")
    err.exit_code = 1
    return err


def final_phase(state: dict[str, Any] | None) -> Any:
    """The recorded phase if it is final (the rollout is over), else None."""
    from shifter.state import Phase

    try:
        phase = Phase(str((state or {}).get("phase")))
    except ValueError:
        return None
    return phase if phase.is_final else None


def wait_until_final(client: Any, release: str, ns: str, timeout: float | None, *,
                     progress: Any = None, poll: float = 0.5) -> dict[str, Any]:
    """Poll the Lease until its rollout is final; raise on a timeout or a run that is gone."""
    from shifter import retry
    from shifter.errors import Unavailable
    from shifter.lease import holder_of, lease_seconds, read_record, state_of

    start = time.monotonic()
    unheld_since: float | None = None
    seen: tuple[Any, ...] = ()
    while True:
        record = retry.kube(lambda: read_record(client, release, ns), what="read the Lease")
        if record is None:
            raise not_found(release, ns)
        state = state_of(record) or {}
        if final_phase(state) is not None:
            return record
        now = time.monotonic()
        key = (state.get("phase"), state.get("step"))
        if progress is not None and key != seen:
            seen = key
            progress(state)
        if holder_of(record) is None:
            unheld_since = now if unheld_since is None else unheld_since
            if now - unheld_since > STALLED_AFTER * lease_seconds():
                raise Unavailable(f"the rollout of {release} is not finished (phase "
                                  f"{state.get('phase', '?')}) and no run has held it for "
                                  f"{format_duration(now - unheld_since)}: resume "
                                  f"it with 'shifter run' or put traffic back with "
                                  f"'shifter abort'")
        else:
            unheld_since = None
        if timeout is not None and now - start >= timeout:
            raise Unavailable(f"timed out after {format_duration(timeout)} waiting for the "
                              f"rollout of {release} (phase {state.get('phase', '?')}, "
                              f"step {int(state.get('step', 0)) + 1})")
        time.sleep(poll if timeout is None else max(0.0, min(poll, timeout - (now - start))))


def status(
    release: ReleaseArg,
    *,
    namespace: NamespaceOpt = None,
    output: OutputOpt = Output.TEXT,
    wait: WaitFlag = False,
    timeout: TimeoutOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = None,
    log_level: LogLevelOpt = None,
    log_format: LogFormatOpt = None,
) -> None:
    """Show a release's rollout: phase, step, weight, holder, the router's split now and
    the last verdicts. Exits 0 when a rollout is recorded, 1 when none is; with --wait,
    blocks until it is final and exits with the rollout's own exit code."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes(output):
        from shifter.lease import read_record, state_of

        client = connect(kubeconfig, context, request_timeout)
        ns = resolve_namespace(namespace, None, client)
        if wait:
            def progress(state: dict[str, Any]) -> None:
                if output == Output.TEXT:
                    print(f"waiting: {release} {state.get('phase', '?')}, step "
                          f"{int(state.get('step', 0)) + 1}/{len(state.get('steps') or [])}",
                          file=sys.stderr)

            record: dict[str, Any] | None = wait_until_final(client, release, ns, timeout,
                                                             progress=progress)
        else:
            record = read_record(client, release, ns)
        if record is None:
            raise not_found(release, ns)
        s = describe(release, ns, record)
        add_router_now(s, live_split(client, ns, {**(state_of(record) or {}),
                                                  "release": release}))
        from shifter.release.colours import colours_now

        s["colours"] = colours_now(client, ns, {**(state_of(record) or {}), "release": release})
        s["deploy"] = (state_of(record) or {}).get("deploy")  # set before any traffic moves
        print_status(s, output)
        phase = final_phase(state_of(record))
    if wait:
        raise typer.Exit(phase.exit_code if phase is not None else 1)


def print_status(s: dict[str, Any], output: str) -> None:
    if output == Output.JSON:
        emit_json(s)
    elif output == Output.YAML:
        import yaml

        print(yaml.safe_dump(s, sort_keys=False, default_flow_style=False), end="")
    else:
        print(render_text(s))
