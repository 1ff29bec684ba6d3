"""``shifter undo`` and ``shifter cleanup``: after the rollout (``shifter.undo``)."""

from __future__ import annotations

from typing import Annotated

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


def undo(release: ReleaseArg, *, namespace: NamespaceOpt = None,
         no_wait: Annotated[bool, typer.Option(
             "--no-wait", help="Refuse (exit 2) instead of scaling a scaled-down previous "
                               "colour back up and waiting for it.")] = False,
         timeout: Annotated[float, typer.Option(
             "--timeout", metavar="DURATION", parser=duration, show_default="10m",
             help="How long the scaled-up previous colour may take to become "
                  "ready.")] = 600.0,
         kubeconfig: KubeconfigOpt = None, context: ContextOpt = None,
         request_timeout: RequestTimeoutOpt = None, log_level: LogLevelOpt = None,
         log_format: LogFormatOpt = None) -> None:
    """After a promotion: all traffic back on the previous colour, in one router write.

    A previous colour that was scaled down is scaled back up to its recorded replicas and
    waited for first. Takes the release's lock; records phase undone (the next run goes
    the other way again). Exits 0 done, 2 nothing to undo or not ready (nothing changed),
    6 while a run holds the release."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes():
        from shifter.cli.status import not_found
        from shifter.undo import undo as do_undo

        client = connect(kubeconfig, context, request_timeout)
        ns = resolve_namespace(namespace, None, client)
        do_undo(client, release, ns, by=who(), wait=not no_wait, timeout=timeout,
                missing=lambda: not_found(release, ns))


def cleanup(release: ReleaseArg, *, namespace: NamespaceOpt = None,
            now: Annotated[bool, typer.Option(
                "--now", help="Scale down now, even before it is due.")] = False,
            kubeconfig: KubeconfigOpt = None, context: ContextOpt = None,
            request_timeout: RequestTimeoutOpt = None, log_level: LogLevelOpt = None,
            log_format: LogFormatOpt = None) -> None:
    """Carry out a scale-down the last rollout recorded for later (after_promotion
    scale_down, after_revert scale_down), once it is due: for a CronJob or a later CI step.

    Exits 0 (also when nothing is due), 6 while a run holds the release."""
    setup_logging(log_level, log_format, default=LogLevel.WARNING)
    with exit_codes():
        from shifter.cli.status import not_found
        from shifter.undo import cleanup as do_cleanup

        client = connect(kubeconfig, context, request_timeout)
        ns = resolve_namespace(namespace, None, client)
        do_cleanup(client, release, ns, now=now, missing=lambda: not_found(release, ns))
