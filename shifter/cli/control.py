"""``shifter abort|approve|promote|pause|resume``: operator requests, from any shell.

A request is an annotation on the release's Lease; the running ``run`` sees it within a
second. With no live holder, or one whose lease expires without acting, ``abort`` takes the
lock and reverts by itself (``shifter.control``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shifter.cli.common import (
    ContextOpt,
    KubeconfigOpt,
    LogFormatOpt,
    LogLevel,
    LogLevelOpt,
    NamespaceOpt,
    RequestTimeoutOpt,
    connect,
    exit_codes,
    resolve_namespace,
    setup_logging,
    who,
)
from shifter.cli.options import ReleaseArg, duration


def wait_opt(default: str) -> Any:
    return typer.Option(
        "--wait", metavar="DURATION", parser=duration, show_default=default,
        help="How long to wait for the running rollout to act on the request, e.g. 30s "
             "(0: do not wait). Not acted on in time: exit 5, the request stays recorded.")


def _request(release: str, action: str, namespace: str | None, kubeconfig: str | None,
             context: str | None, wait: float, request_timeout: float | None) -> None:
    from shifter.cli.status import not_found
    from shifter.control import request

    client = connect(kubeconfig, context, request_timeout)
    ns = resolve_namespace(namespace, None, client)
    request(client, release, ns, action, by=who(), wait=wait,
            missing=lambda: not_found(release, ns))


def abort(release: ReleaseArg, *, namespace: NamespaceOpt = None,
          wait: Annotated[float, wait_opt("30s")] = 30.0, kubeconfig: KubeconfigOpt = None,
          context: ContextOpt = None, request_timeout: RequestTimeoutOpt = None,
          log_level: LogLevelOpt = None, log_format: LogFormatOpt = None) -> None:
    """Put all traffic back on the old colour now; the running rollout exits 4.

    With no run holding the release, abort takes the lock and reverts by itself. Exits 0
    once traffic is on the old colour (also when it already was), 2 if the release was
    already promoted, 5 if the running rollout did not act in time."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes():
        _request(release, "abort", namespace, kubeconfig, context, wait, request_timeout)


def promote(release: ReleaseArg, *, namespace: NamespaceOpt = None,
            full: Annotated[bool, typer.Option(
                "--full", help="Skip the remaining steps: promote once the current step "
                               "passes.")] = False,
            force: Annotated[bool, typer.Option(
                "--force", help="Promote now, without waiting for the current step's "
                                "analysis.")] = False,
            wait: Annotated[float, wait_opt("10s")] = 10.0, kubeconfig: KubeconfigOpt = None,
            context: ContextOpt = None, request_timeout: RequestTimeoutOpt = None,
            log_level: LogLevelOpt = None, log_format: LogFormatOpt = None) -> None:
    """Go on to the next step: at an approval gate now, otherwise once the current step
    passes (its remaining bake skipped). --full promotes once the current step passes,
    --force promotes now.

    Exits 0 when the running rollout acknowledged the request, 5 when no run holds the
    release or it did not acknowledge within --wait (the request stays recorded)."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes():
        action = "promote-force" if force else "promote-full" if full else "promote"
        _request(release, action, namespace, kubeconfig, context, wait, request_timeout)


def approve(release: ReleaseArg, *, namespace: NamespaceOpt = None,
            wait: Annotated[float, wait_opt("10s")] = 10.0, kubeconfig: KubeconfigOpt = None,
            context: ContextOpt = None, request_timeout: RequestTimeoutOpt = None,
            log_level: LogLevelOpt = None, log_format: LogFormatOpt = None) -> None:
    """Answer an approval gate: the rollout goes on to the next step's weight.

    Exits 0 when the running rollout acknowledged, 5 otherwise (see promote)."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes():
        _request(release, "approve", namespace, kubeconfig, context, wait, request_timeout)


def pause(release: ReleaseArg, *, namespace: NamespaceOpt = None,
          wait: Annotated[float, wait_opt("10s")] = 10.0, kubeconfig: KubeconfigOpt = None,
          context: ContextOpt = None, request_timeout: RequestTimeoutOpt = None,
          log_level: LogLevelOpt = None, log_format: LogFormatOpt = None) -> None:
    """Hold at the current weight; analysis keeps running and a failure still reverts.

    Exits 0 when the running rollout acknowledged, 5 otherwise (see promote)."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes():
        _request(release, "pause", namespace, kubeconfig, context, wait, request_timeout)


def resume(release: ReleaseArg, *, namespace: NamespaceOpt = None,
           wait: Annotated[float, wait_opt("10s")] = 10.0, kubeconfig: KubeconfigOpt = None,
           context: ContextOpt = None, request_timeout: RequestTimeoutOpt = None,
           log_level: LogLevelOpt = None, log_format: LogFormatOpt = None) -> None:
    """Continue a paused rollout; its step's bake time goes on where it stopped.

    Exits 0 when the running rollout acknowledged, 5 otherwise (see promote)."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes():
        _request(release, "resume", namespace, kubeconfig, context, wait, request_timeout)
