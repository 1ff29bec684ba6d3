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
    LogLevelOpt,
    NamespaceOpt,
    connect,
    exit_codes,
    resolve_namespace,
    setup_logging,
    who,
)

ReleaseArg = Annotated[str, typer.Argument(help="The release.")]
WaitOpt = Annotated[float, typer.Option("--wait", help="Seconds to wait for the running "
                                        "rollout to act on the request (0: do not wait).")]


def _request(release: str, action: str, namespace: str | None, kubeconfig: str | None,
             context: str | None, wait: float) -> None:
    from shifter.errors import InvalidInput
    from shifter.lease import holder_of, post_request, read_record, request_of, state_of

    client = connect(kubeconfig, context)
    ns = resolve_namespace(namespace, None, client)
    obj = read_record(client, release, ns)
    if obj is None:
        raise InvalidInput(f"release: no rollout of {release} is recorded in namespace {ns} "
                           f"(no Lease shifter-{release})")
    held = holder_of(obj)
    if held is None and action == "abort":
        _abort_unheld(client, release, ns, state_of(obj))
        return
    posted = post_request(client, release, ns, action, by=who())
    rid = (request_of(posted) or {}).get("id")
    if held is None:
        print(f"{action}: recorded; no run holds {release} now, a resumed 'shifter run' "
              f"will act on it")
        return
    print(f"{action}: requested from {held[0]}")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        current = read_record(client, release, ns) or {}
        state = state_of(current) or {}
        pending = (request_of(current) or {}).get("id") == rid
        if action == "abort" and state.get("phase") in ("aborted", "rolled_back", "failed"):
            print(f"abort: done, phase {state['phase']}, traffic on {state.get('live')}")
            return
        if action != "abort" and not pending:
            print(f"{action}: acknowledged, phase {state.get('phase')}")
            return
        time.sleep(0.2)
    if wait > 0:
        print(f"{action}: not acted on within {wait:g}s; it stays recorded")


def _abort_unheld(client: Any, release: str, ns: str, state: dict[str, Any] | None) -> None:
    """No live run: take the lock, put all traffic back on the old colour, record it."""
    from shifter import retry, wiring
    from shifter.config import build_config
    from shifter.lease import Lease
    from shifter.routers.base import Colour

    if not state or not state.get("router") or not state.get("new"):
        print(f"abort: nothing to abort for {release}")
        return
    lease = Lease(client, release, ns)
    lease.acquire()
    try:
        cfg = build_config({"release": release, "router": state["router"],
                            "services": state.get("services")})
        target = wiring.make_target(cfg, ns)
        router = wiring.make_router(cfg, client, target)
        new = Colour(state["new"])
        if state.get("phase") == "promoted":
            print(f"abort: {release} was already promoted; nothing reverted")
            lease.release_lock()
            return
        retry.revert(lambda: router.revert(new), what="revert")
        lease.write({**state, "phase": "aborted", "weight": 0,
                     "reason": f"aborted by {who()} with no run holding the release"},
                    release=True)
    except BaseException:
        lease.release_lock()
        raise
    print(f"abort: reverted; all traffic on {target.service(new.other)}")


def abort(release: ReleaseArg, *, namespace: NamespaceOpt = None,
          wait: WaitOpt = 30.0, kubeconfig: KubeconfigOpt = None, context: ContextOpt = None,
          log_level: LogLevelOpt = "warning") -> None:
    """Put all traffic back on the old colour now (the running rollout exits 4)."""
    setup_logging(log_level)
    with exit_codes():
        _request(release, "abort", namespace, kubeconfig, context, wait)


def promote(release: ReleaseArg, *, namespace: NamespaceOpt = None,
            force: Annotated[bool, typer.Option("--force", help="Skip the current step's "
                                                "analysis too.")] = False,
            wait: WaitOpt = 10.0, kubeconfig: KubeconfigOpt = None,
            context: ContextOpt = None, log_level: LogLevelOpt = "warning") -> None:
    """Skip the remaining steps: promote once the current step passes (now with --force)."""
    setup_logging(log_level)
    with exit_codes():
        _request(release, "promote-force" if force else "promote", namespace, kubeconfig,
                 context, wait)


def pause(release: ReleaseArg, *, namespace: NamespaceOpt = None, wait: WaitOpt = 10.0,
          kubeconfig: KubeconfigOpt = None, context: ContextOpt = None,
          log_level: LogLevelOpt = "warning") -> None:
    """Hold at the current weight; analysis keeps running and a failure still reverts."""
    setup_logging(log_level)
    with exit_codes():
        _request(release, "pause", namespace, kubeconfig, context, wait)


def resume(release: ReleaseArg, *, namespace: NamespaceOpt = None, wait: WaitOpt = 10.0,
           kubeconfig: KubeconfigOpt = None, context: ContextOpt = None,
           log_level: LogLevelOpt = "warning") -> None:
    """Continue a paused rollout."""
    setup_logging(log_level)
    with exit_codes():
        _request(release, "resume", namespace, kubeconfig, context, wait)
