"""``shifter validate``: config, cluster objects and queries; changes nothing."""

from __future__ import annotations

from typing import Annotated

import typer

from shifter.cli.common import (
    ContextOpt,
    KubeconfigOpt,
    LogFormatOpt,
    LogLevelOpt,
    NamespaceOpt,
    RequestTimeoutOpt,
    connect,
    exit_codes,
    resolve_namespace,
    setup_logging,
)
from shifter.cli.options import Output, OutputOpt
from shifter.cli.run import PromOpt


def validate(
    *,
    file: Annotated[str, typer.Option("--file", "-f", metavar="FILE",
                                      help="The shift.yaml to check.")],
    release: Annotated[str | None, typer.Option("--release", help="Override the file's "
                                                "release.")] = None,
    namespace: NamespaceOpt = None,
    prometheus: PromOpt = None,
    offline: Annotated[bool, typer.Option("--offline", help="Check the file only; contact "
                                          "neither the cluster nor Prometheus.")] = False,
    output: OutputOpt = Output.TEXT,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = None,
    log_level: LogLevelOpt = None,
    log_format: LogFormatOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="A step whose deadline cannot be "
                                         "met at the measured traffic is an error.")] = False,
) -> None:
    """Check a shift.yaml as run would, listing every error at once, then (unless
    --offline) the cluster objects it names and its queries against Prometheus. Changes
    nothing; exits 0 valid, 2 invalid, 5 cluster or Prometheus unreachable."""
    setup_logging(log_level, log_format)
    with exit_codes(output):
        from shifter import rollout
        from shifter.precheck import load_checked
        from shifter.report import make_reporter

        cfg = load_checked(file, {"release": release, "analysis.prometheus": prometheus,
                                  "strict": strict or None})
        if offline:
            reason = f"{file}: valid (offline: the cluster and Prometheus were not contacted)"
            if output == Output.TEXT:
                print(reason)
            else:
                offline_reporter = make_reporter(output, release=cfg.release, github=False)
                offline_reporter.emit("summary", outcome="valid", exit_code=0, reason=reason)
                offline_reporter.close()
            return
        client = connect(kubeconfig, context, request_timeout)
        ns = resolve_namespace(namespace, cfg.namespace, client)
        reporter = make_reporter(output, release=cfg.release, namespace=ns,
                                 services={c: cfg.service(c) for c in ("blue", "green")})
        try:
            rollout.validate(cfg, client, ns, reporter)
        finally:
            reporter.close()
