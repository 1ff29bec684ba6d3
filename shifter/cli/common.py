"""What every command shares: options, logging, credentials, and turning errors into exit codes."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from shifter.kube.client import KubeClient

KubeconfigOpt = Annotated[str | None, typer.Option(
    "--kubeconfig", envvar="KUBECONFIG", show_envvar=True,
    help="Kubeconfig file (default: KUBECONFIG, ~/.kube/config, then the pod's service account).")]
ContextOpt = Annotated[str | None, typer.Option("--context", help="Kubeconfig context to use.")]
NamespaceOpt = Annotated[str | None, typer.Option(
    "--namespace", "-n", help="Namespace of the release (default: the file's, the context's, "
                              "or the pod's).")]
OutputOpt = Annotated[str, typer.Option(
    "--output", "-o", help="text for people, json for one JSON event per line (CI).")]
LogLevelOpt = Annotated[str, typer.Option(
    "--log-level", envvar="SHIFTER_LOG_LEVEL", help="Log level on stderr: debug, info, warning, "
                                                    "error.")]


# Secret values known to this process (webhook URLs, tokens): scrubbed from every log line.
SECRETS: list[str] = []


def add_secrets(values: list[str]) -> None:
    SECRETS.extend(v for v in values if v and v not in SECRETS)


def setup_logging(level: str = "info", secrets: Callable[[], list[str]] | None = None) -> None:
    import structlog

    from shifter.redact import redact_processor

    lvl = getattr(logging, level.upper(), None)
    if not isinstance(lvl, int):
        raise typer.BadParameter(f"expected debug, info, warning or error, got {level!r}",
                                 param_hint="--log-level")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_processor(secrets or (lambda: list(SECRETS))),
            structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
            if sys.stderr.isatty() else structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        # sys.stderr looked up per logger, not captured once (it may be swapped, e.g. in tests)
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def check_output(output: str) -> str:
    if output not in ("text", "json"):
        raise typer.BadParameter(f"expected text or json, got {output!r}", param_hint="--output")
    return output


def connect(kubeconfig: str | None, context: str | None) -> KubeClient:
    from shifter.kube.client import load_client

    return load_client(kubeconfig=kubeconfig, context=context)


def resolve_namespace(flag: str | None, from_file: str | None, client: KubeClient) -> str:
    return flag or from_file or client.default_namespace


def fail(message: str, code: int, output: str = "text") -> typer.Exit:
    """Print one line (and a JSON summary event in json mode); return the Exit to raise."""
    line = " ".join(message.split())
    print(f"error: {line}", file=sys.stderr)
    if output == "json":
        print(json.dumps({"event": "summary", "outcome": "error", "exit_code": code,
                          "reason": line}))
    return typer.Exit(code)


@contextmanager
def exit_codes(output: str = "text") -> Iterator[None]:
    """Turn shifter's errors into their exit codes with one line on stderr."""
    from shifter.errors import ShifterError

    try:
        yield
    except ShifterError as exc:
        raise fail(str(exc), exc.exit_code, output) from None


def who() -> str:
    """Who is asking, for the record: user@host (a pod's name in a cluster)."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{os.environ.get('HOSTNAME') or socket.gethostname()}"


def emit_json(obj: Any) -> None:
    print(json.dumps(obj, default=str, indent=None))
