"""``shifter abort|promote|pause|resume``: operator requests, from any shell.

A request is an annotation on the release's Lease; the running ``run`` sees it within a
second. With no live holder, ``abort`` takes the lock and reverts by itself.
"""

from __future__ import annotations

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
    connect,
    exit_codes,
    resolve_namespace,
    setup_logging,
    who,
)
from shifter.cli.options import ReleaseArg, duration
from shifter.durations import format_duration
from shifter.errors import InvalidInput, Unavailable


def wait_opt(default: str) -> Any:
    return typer.Option(
        "--wait", metavar="DURATION", parser=duration, show_default=default,
        help="How long to wait for the running rollout to act on the request, e.g. 30s "
             "(0: do not wait). Not acted on in time: exit 5, the request stays recorded.")


class NotActedOn(Unavailable):
    """The request was recorded but nothing acted on it (in time): exit 5."""


def _request(release: str, action: str, namespace: str | None, kubeconfig: str | None,
             context: str | None, wait: float) -> None:
    from shifter.cli.status import not_found
    from shifter.lease import holder_of, post_request, read_record, request_of, state_of

    client = connect(kubeconfig, context)
    ns = resolve_namespace(namespace, None, client)
    obj = read_record(client, release, ns)
    if obj is None:
        raise not_found(release, ns)
    held = holder_of(obj)
    if held is None and action == "abort":
        _abort_unheld(client, release, ns, state_of(obj))
        return
    posted = post_request(client, release, ns, action, by=who())
    rid = (request_of(posted) or {}).get("id")
    if held is None:
        raise NotActedOn(f"{action}: not acted on: no run holds {release} now; the request "
                         f"is recorded and a resumed 'shifter run' will act on it")
    print(f"{action}: requested from {held[0]}")
    if wait <= 0:
        print(f"{action}: not waiting (--wait 0); the request stays recorded until acted on")
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        current = read_record(client, release, ns) or {}
        state = state_of(current) or {}
        pending = (request_of(current) or {}).get("id") == rid
        if action == "abort" and state.get("phase") in ("aborted", "rolled_back"):
            print(f"abort: done, phase {state['phase']}, traffic on {state.get('live')}")
            return
        if action == "abort" and state.get("phase") == "failed":
            raise NotActedOn(f"abort: the run could not finish the revert: "
                             f"{state.get('reason') or 'phase failed'}")
        if action != "abort" and not pending:
            print(f"{action}: acknowledged, phase {state.get('phase')}")
            return
        time.sleep(0.2)
    raise NotActedOn(f"{action}: not acted on within {format_duration(wait)} by {held[0]}; "
                     f"the request stays recorded")


def _abort_unheld(client: Any, release: str, ns: str, state: dict[str, Any] | None) -> None:
    """No live run: take the lock, put all traffic back on the old colour, record it."""
    from shifter import retry, wiring
    from shifter.config import build_config
    from shifter.lease import Lease
    from shifter.routers.base import Colour

    if not state or not state.get("router") or not state.get("new"):
        raise InvalidInput(f"abort: nothing to abort for {release}: the record names no "
                           f"rollout")
    if state.get("phase") in ("rolled_back", "aborted"):
        print(f"abort: nothing to do: {release} is {state['phase']}, traffic on "
              f"{state.get('live')}")
        return
    if state.get("phase") == "promoted":
        raise InvalidInput(f"abort: {release} was already promoted; nothing reverted")
    lease = Lease(client, release, ns)
    lease.acquire()
    try:
        cfg = build_config({"release": release, "router": state["router"],
                            "services": state.get("services")})
        target = wiring.make_target(cfg, ns)
        router = wiring.make_router(cfg, client, target)
        new = Colour(state["new"])
        retry.revert(lambda: router.revert(new), what="revert")
        lease.write({**state, "phase": "aborted", "weight": 0,
                     "reason": f"aborted by {who()} with no run holding the release"},
                    release=True)
    except BaseException:
        lease.release_lock()
        raise
    print(f"abort: reverted; all traffic on {target.service(new.other)}")


def abort(release: ReleaseArg, *, namespace: NamespaceOpt = None,
          wait: Annotated[float, wait_opt("30s")] = 30.0, kubeconfig: KubeconfigOpt = None,
          context: ContextOpt = None, log_level: LogLevelOpt = None,
          log_format: LogFormatOpt = None) -> None:
    """Put all traffic back on the old colour now; the running rollout exits 4.

    With no run holding the release, abort takes the lock and reverts by itself. Exits 0
    once traffic is on the old colour (also when it already was), 2 if the release was
    already promoted, 5 if the running rollout did not act in time."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes():
        _request(release, "abort", namespace, kubeconfig, context, wait)


def promote(release: ReleaseArg, *, namespace: NamespaceOpt = None,
            force: Annotated[bool, typer.Option(
                "--force", help="Promote now, without waiting for the current step's "
                                "analysis.")] = False,
            wait: Annotated[float, wait_opt("10s")] = 10.0, kubeconfig: KubeconfigOpt = None,
            context: ContextOpt = None, log_level: LogLevelOpt = None,
            log_format: LogFormatOpt = None) -> None:
    """Skip the remaining steps: promote once the current step passes (now with --force).

    Exits 0 when the running rollout acknowledged the request, 5 when no run holds the
    release or it did not acknowledge within --wait (the request stays recorded)."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes():
        _request(release, "promote-force" if force else "promote", namespace, kubeconfig,
                 context, wait)


def pause(release: ReleaseArg, *, namespace: NamespaceOpt = None,
          wait: Annotated[float, wait_opt("10s")] = 10.0, kubeconfig: KubeconfigOpt = None,
          context: ContextOpt = None, log_level: LogLevelOpt = None,
          log_format: LogFormatOpt = None) -> None:
    """Hold at the current weight; analysis keeps running and a failure still reverts.

    Exits 0 when the running rollout acknowledged, 5 otherwise (see promote)."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes():
        _request(release, "pause", namespace, kubeconfig, context, wait)


def resume(release: ReleaseArg, *, namespace: NamespaceOpt = None,
           wait: Annotated[float, wait_opt("10s")] = 10.0, kubeconfig: KubeconfigOpt = None,
           context: ContextOpt = None, log_level: LogLevelOpt = None,
           log_format: LogFormatOpt = None) -> None:
    """Continue a paused rollout; its step's bake time goes on where it stopped.

    Exits 0 when the running rollout acknowledged, 5 otherwise (see promote)."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes():
        _request(release, "resume", namespace, kubeconfig, context, wait)
