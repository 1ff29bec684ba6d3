"""The closed sets and shared options of the command line, as Typer sees them.

Closed sets are string enums, so ``--help`` lists the choices, shell completion offers
them and a wrong value is Click's one usage error (exit 2). The router and preset names
are repeated here (importing the registry costs 200 ms on every ``--help``); a unit test
fails when they drift from ``shifter.routers.registry`` and ``shifter.analysis.presets``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from shifter.durations import parse_duration


class Output(StrEnum):
    """What stdout carries."""

    TEXT = "text"  # lines for people
    JSON = "json"  # one JSON object per line
    YAML = "yaml"  # YAML documents (``---`` between them)


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogFormat(StrEnum):
    CONSOLE = "console"  # key=value lines for people
    JSON = "json"  # one JSON object per line (key ``msg``, never ``event``)


class RouterKind(StrEnum):
    GATEWAY = "gateway"
    ISTIO = "istio"
    NGINX = "nginx"
    SERVICE = "service"


class Preset(StrEnum):
    APP = "app"
    ENVOY = "envoy"
    HAPROXY = "haproxy"
    ISTIO = "istio"
    NGINX = "nginx"


class OnInterrupt(StrEnum):
    REVERT = "revert"
    HOLD = "hold"


def duration(text: str | float) -> float:
    """A duration flag (``5s``, ``1m30s``) in seconds; a bad one is a usage error."""
    if isinstance(text, int | float):  # a default, already in seconds
        return float(text)
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def request_timeout(text: str | float) -> float:
    """``--request-timeout``: a duration above 0 (kubectl's ``0``, no timeout, would let one
    stuck request hold a revert forever)."""
    seconds = duration(text)
    if seconds <= 0:
        raise typer.BadParameter(f"expected a duration above 0 like 5s or 1m, got {text!r} "
                                 f"(0, no timeout, is not accepted)")
    return seconds


KubeconfigOpt = Annotated[str | None, typer.Option(
    "--kubeconfig", metavar="FILE",
    help="Kubeconfig file. Default: the files in KUBECONFIG merged as kubectl merges them, "
         "else ~/.kube/config, else the pod's service account. Also before the command.")]
ContextOpt = Annotated[str | None, typer.Option(
    "--context", metavar="NAME", help="Kubeconfig context to use. Also before the command.")]
NamespaceOpt = Annotated[str | None, typer.Option(
    "--namespace", "-n", metavar="NS",
    help="Namespace of the release (default: the file's, the context's, or the pod's). "
         "Also before the command.")]
RequestTimeoutOpt = Annotated[float | None, typer.Option(
    "--request-timeout", metavar="DURATION", parser=request_timeout, show_default="10s",
    help="How long one request to the Kubernetes API may take, e.g. 5s or 1m. The router "
         "writes' deadlines are built on it: a step's weight is given up after 3x, a "
         "promotion or revert after 6x (docs/safety.md). Also before the command.")]
LogLevelOpt = Annotated[LogLevel | None, typer.Option(
    "--log-level", envvar="SHIFTER_LOG_LEVEL", show_envvar=True, case_sensitive=False,
    help="Least severe log level written to stderr.")]
LogFormatOpt = Annotated[LogFormat | None, typer.Option(
    "--log-format", envvar="SHIFTER_LOG_FORMAT", show_envvar=True, case_sensitive=False,
    help="Log lines on stderr (default: console on a terminal, json otherwise).")]
ReleaseArg = Annotated[str, typer.Argument(metavar="RELEASE", help="The release.",
                                           show_default=False)]
OutputOpt = Annotated[Output, typer.Option(
    "--output", "-o", case_sensitive=False,
    help="text for people; json: one JSON object per line; yaml: YAML documents.")]
