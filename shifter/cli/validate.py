"""``shifter validate``: config, cluster objects and queries; changes nothing."""

from __future__ import annotations

from typing import Annotated

import typer

from shifter.cli.common import (
    ContextOpt,
    KubeconfigOpt,
    LogLevelOpt,
    NamespaceOpt,
    OutputOpt,
    check_output,
    connect,
    exit_codes,
    resolve_namespace,
    setup_logging,
)


def validate(
    *,
    file: Annotated[str, typer.Option("--file", "-f", help="The shift.yaml to check.")],
    release: Annotated[str | None, typer.Option("--release", help="Override the file's "
                                                "release.")] = None,
    namespace: NamespaceOpt = None,
    offline: Annotated[bool, typer.Option("--offline", help="Check the file only; contact "
                                          "neither the cluster nor Prometheus.")] = False,
    output: OutputOpt = "text",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    log_level: LogLevelOpt = "info",
    strict: Annotated[bool, typer.Option("--strict", help="A step whose deadline cannot be "
                                         "met at the measured traffic is an error.")] = False,
) -> None:
    """Check a shift.yaml, the cluster objects it names and its queries; change nothing."""
    output = check_output(output)
    setup_logging(log_level)
    with exit_codes(output):
        from shifter import rollout
        from shifter.config import load_config
        from shifter.report import make_reporter

        cfg = load_config(file, {"release": release, "strict": strict or None})
        if offline:
            from shifter.routers.registry import parse_config
            from shifter.wiring import make_checks

            parse_config(cfg.router_kind, cfg.router)
            make_checks(cfg)
            print(f"{file}: valid (offline: the cluster and Prometheus were not contacted)")
            return
        client = connect(kubeconfig, context)
        ns = resolve_namespace(namespace, cfg.namespace, client)
        reporter = make_reporter(output)
        try:
            rollout.validate(cfg, client, ns, reporter)
        finally:
            reporter.close()
