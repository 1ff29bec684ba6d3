"""``shifter run``: the rollout."""

from __future__ import annotations

import os
import signal
from typing import Annotated, Any

import typer

from shifter.cli.common import (
    ContextOpt,
    KubeconfigOpt,
    LogFormatOpt,
    LogLevelOpt,
    NamespaceOpt,
    RequestTimeoutOpt,
    add_secrets,
    connect,
    exit_codes,
    resolve_namespace,
    setup_logging,
)
from shifter.cli.options import OnInterrupt, Output, OutputOpt, Preset, RouterKind


def _value(v: Any) -> Any:
    return v.value if isinstance(v, RouterKind | Preset | OnInterrupt) else v


def overrides(release: str, *, router: str | None, steps: str | None, bake: str | None,
              interval: str | None, step_deadline: str | None, prometheus: str | None,
              preset: str | None, max_error_rate: float | None, max_latency_p99: str | None,
              min_requests: int | None, on_interrupt: str | None) -> dict[str, Any]:
    """Flags as dotted config keys (None = not given, the file's value stands)."""
    router, preset, on_interrupt = _value(router), _value(preset), _value(on_interrupt)
    return {"release": release, "router.kind": router, "steps": steps, "bake": bake,
            "interval": interval, "step_deadline": step_deadline,
            "analysis.prometheus": prometheus, "analysis.preset": preset,
            "analysis.max_error_rate": max_error_rate,
            "analysis.max_latency_p99": max_latency_p99,
            "analysis.min_requests": min_requests, "on_interrupt": on_interrupt}


FileOpt = Annotated[str | None, typer.Option("--file", "-f", help="shift.yaml with the "
                                             "rollout's settings; flags override it.")]
RouterOpt = Annotated[RouterKind | None, typer.Option(
    "--router", case_sensitive=False, help="Traffic router (default: the file's, else nginx).")]
StepsOpt = Annotated[str | None, typer.Option(
    "--steps", help="Percent of traffic on the new colour per step, e.g. 10,50,100.")]
BakeOpt = Annotated[str | None, typer.Option("--bake", help="Time each step must stay healthy "
                                             "before the next, e.g. 60s, 2m.")]
IntervalOpt = Annotated[str | None, typer.Option("--interval", help="How often the SLOs are "
                                                 "checked during a step, e.g. 10s.")]
DeadlineOpt = Annotated[str | None, typer.Option(
    "--step-deadline", help="Revert when a step is still inconclusive this long after its "
                            "weight moved (default: 3x bake, at least bake + 3 intervals).")]
PromOpt = Annotated[str | None, typer.Option(
    "--prometheus", envvar="SHIFTER_PROMETHEUS_URL", show_envvar=True, metavar="URL",
    help="Prometheus base URL; wins over the environment, which wins over the file.")]
PresetOpt = Annotated[Preset | None, typer.Option(
    "--preset", case_sensitive=False, help="Metric source of the built-in checks "
                                           "(default: the file's, else app).")]
ErrOpt = Annotated[float | None, typer.Option("--max-error-rate", help="Highest error ratio "
                                              "allowed on the new colour, e.g. 0.01.")]
LatOpt = Annotated[str | None, typer.Option("--max-latency-p99", help="Highest p99 latency "
                                            "allowed on the new colour, e.g. 500ms.")]
MinReqOpt = Annotated[int | None, typer.Option("--min-requests", help="Requests the new "
                                               "colour needs in a window before it can pass.")]
DryOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Check everything run checks before traffic moves (except smoke "
                      "checks) and send every step's write with dryRun=All; change nothing.")]
IntrOpt = Annotated[OnInterrupt | None, typer.Option(
    "--on-interrupt", case_sensitive=False,
    help="On SIGINT/SIGTERM: revert all traffic to the old colour, or hold the current "
         "weight and release the lock (both exit 4; default: the file's, else revert).")]
ImageOpt = Annotated[list[str] | None, typer.Option(
    "--image", help="Deploy this image to the idle colour first: [CONTAINER=]IMAGE, "
                    "repeatable (the container may be omitted when the pod has one).")]
ReadyOpt = Annotated[str | None, typer.Option(
    "--ready-timeout", help="How long the new version may take to become ready (default "
                            "10m); then exit 3 with no traffic moved.")]
SameOpt = Annotated[bool, typer.Option(
    "--allow-same", help="Shift even when the new colour's pod template equals the live "
                         "one's (otherwise exit 2: nothing to release).")]


def release_overrides(image: list[str] | None, ready_timeout: str | None,
                      allow_same: bool) -> dict[str, Any]:
    """--image/--ready-timeout/--allow-same as config keys (flags replace deploy.images)."""
    from shifter.release.spec import parse_images

    return {"deploy.images": parse_images(image) if image else None,
            "deploy.ready_timeout": ready_timeout,
            "deploy.allow_same": True if allow_same else None}


def run(
    release: Annotated[str, typer.Argument(help="The release (its Services are "
                                           "RELEASE-blue and RELEASE-green by default).")],
    *,
    file: FileOpt = None,
    namespace: NamespaceOpt = None,
    router: RouterOpt = None,
    steps: StepsOpt = None,
    bake: BakeOpt = None,
    interval: IntervalOpt = None,
    step_deadline: DeadlineOpt = None,
    prometheus: PromOpt = None,
    preset: PresetOpt = None,
    max_error_rate: ErrOpt = None,
    max_latency_p99: LatOpt = None,
    min_requests: MinReqOpt = None,
    dry_run: DryOpt = False,
    output: OutputOpt = Output.TEXT,
    on_interrupt: IntrOpt = None,
    image: ImageOpt = None,
    ready_timeout: ReadyOpt = None,
    allow_same: SameOpt = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    request_timeout: RequestTimeoutOpt = None,
    log_level: LogLevelOpt = None,
    log_format: LogFormatOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="A step whose deadline cannot be "
                                         "met at the measured traffic is an error.")] = False,
    approve_before_promote: Annotated[bool, typer.Option(
        "--approve-before-promote", help="Hold before the last step (100%) in phase "
        "awaiting_approval until 'shifter approve RELEASE' (analysis keeps running; "
        "approval_timeout, default 1h, reverts: exit 4).")] = False,
) -> None:
    """Shift traffic to the other colour step by step; revert on an SLO breach.

    With --image (or deploy: in the file) the new version is first deployed to the idle
    colour, waited for and checked (smoke, pre_traffic, preview) before any traffic moves.

    Resumes a recorded unfinished rollout of RELEASE whose runner is gone. Exits 0
    promoted, 2 invalid input (nothing changed), 3 rolled back, 4 aborted or interrupted,
    5 cluster or Prometheus unreachable, 6 another run holds the release."""
    setup_logging(log_level, log_format)
    with exit_codes(output):
        from shifter import rollout
        from shifter.engine import Interrupt
        from shifter.precheck import load_checked
        from shifter.report import make_reporter

        cfg = load_checked(file, overrides(
            release, router=router, steps=steps, bake=bake, interval=interval,
            step_deadline=step_deadline, prometheus=prometheus, preset=preset,
            max_error_rate=max_error_rate, max_latency_p99=max_latency_p99,
            min_requests=min_requests, on_interrupt=on_interrupt)
            | release_overrides(image, ready_timeout, allow_same) | {"strict": strict or None}
            | {"approve_before_promote": approve_before_promote or None})
        from shifter.analysis import promauth

        add_secrets([n.url or os.environ.get(n.url_env or "", "") for n in cfg.notify])
        add_secrets(promauth.secrets(cfg.analysis.prometheus_auth))
        client = connect(kubeconfig, context, request_timeout)
        token = str(client.api.configuration.api_key.get("BearerToken") or "")
        add_secrets([token, token.removeprefix("Bearer ")])
        ns = resolve_namespace(namespace, cfg.namespace, client)
        reporter = make_reporter(output, release=cfg.release, namespace=ns,
                                 services={c: cfg.service(c) for c in ("blue", "green")})
        try:
            if dry_run:
                rollout.dry_run(cfg, client, ns, reporter)
                return
            interrupt = Interrupt()

            def handler(signum: int, frame: Any) -> None:
                interrupt.set(signal.Signals(signum).name)

            previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                outcome = rollout.run(cfg, client, ns, reporter, interrupt=interrupt)
            finally:
                for s, h in previous.items():
                    signal.signal(s, h)
        finally:
            reporter.close()
    raise typer.Exit(outcome.exit_code)
