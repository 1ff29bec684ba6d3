"""``shifter abort|promote|pause|resume``: operator requests, from any shell.

A request is an annotation on the release's Lease; the running ``run`` sees it within a
second. With no live holder, or one whose lease expires without acting, ``abort`` takes the
lock and reverts by itself (``shifter.control``).
"""

from __future__ import annotations

from typing import Annotated

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
    from shifter.control import request

    client = connect(kubeconfig, context)
    ns = resolve_namespace(namespace, None, client)
    request(client, release, ns, action, by=who(), wait=wait)


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
