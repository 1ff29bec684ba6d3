"""What every command shares: options, logging, credentials, and turning errors into exit codes."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from shifter.kube.client import KubeClient

from shifter.cli.options import (
    ContextOpt,
    KubeconfigOpt,
    LogFormat,
    LogFormatOpt,
    LogLevel,
    LogLevelOpt,
    NamespaceOpt,
    Output,
    RequestTimeoutOpt,
)

__all__ = ["ROOT", "SECRETS", "ContextOpt", "KubeconfigOpt", "LogFormat", "LogFormatOpt",
           "LogLevel", "LogLevelOpt", "NamespaceOpt", "Output", "RequestTimeoutOpt",
           "add_secrets", "connect",
           "emit_json", "exit_codes", "fail", "kube_options", "resolve_namespace",
           "root_option", "setup_logging", "who"]

# Options given before the subcommand (``shifter -n demo status shop``): set by the root
# callback, which runs before every subcommand.
ROOT: dict[str, Any] = {}


def root_option(name: str) -> Any:
    return ROOT.get(name)


def kube_options(namespace: str | None, kubeconfig: str | None, context: str | None
                 ) -> tuple[str | None, str | None, str | None]:
    """The subcommand's own flags, else those given before it (kubectl accepts both)."""
    return (namespace or root_option("namespace"), kubeconfig or root_option("kubeconfig"),
            context or root_option("context"))


# Secret values known to this process (webhook URLs, tokens): scrubbed from every log line.
SECRETS: list[str] = []


def add_secrets(values: list[str]) -> None:
    SECRETS.extend(v for v in values if v and v not in SECRETS)


def setup_logging(level: LogLevel | str | None = None, fmt: LogFormat | str | None = None,
                  secrets: Callable[[], list[str]] | None = None, *,
                  default: LogLevel = LogLevel.INFO) -> None:
    """structlog to stderr. A log line's message is under ``msg`` (never ``event``, the
    key of stdout events), so merged Job logs can be told apart."""
    import structlog

    from shifter.redact import redact_processor

    level = level or root_option("log_level") or default
    fmt = fmt or root_option("log_format") or (
        LogFormat.CONSOLE if sys.stderr.isatty() else LogFormat.JSON)
    lvl = getattr(logging, str(level).upper(), None)
    if not isinstance(lvl, int):
        raise typer.BadParameter(f"expected debug, info, warning or error, got {level!r}",
                                 param_hint="--log-level")
    renderer: Any = (structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), event_key="msg")
                     if str(fmt) == LogFormat.CONSOLE else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.EventRenamer("msg"),
            redact_processor(secrets or (lambda: list(SECRETS))),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        # sys.stderr looked up per logger, not captured once (it may be swapped, e.g. in tests)
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def connect(kubeconfig: str | None, context: str | None,
            request_timeout: float | None = None) -> KubeClient:
    """The Kubernetes client, from the subcommand's flags, else those before it."""
    from shifter.kube.client import REQUEST_TIMEOUT, load_client

    _, kubeconfig, context = kube_options(None, kubeconfig, context)
    timeout = request_timeout or root_option("request_timeout") or REQUEST_TIMEOUT
    return load_client(kubeconfig=kubeconfig, context=context, request_timeout=timeout)


def resolve_namespace(flag: str | None, from_file: str | None, client: KubeClient) -> str:
    """Flag (before or after the command), else the file's, else the context's/pod's."""
    return flag or root_option("namespace") or from_file or client.default_namespace


def fail(message: str, code: int, output: str = "text",
         lines: list[str] | None = None) -> typer.Exit:
    """Print one line per error (and a summary event in json/yaml mode); return the Exit."""
    line = " ".join(message.split())
    for each in lines or [line]:
        print(f"error: {' '.join(each.split())}", file=sys.stderr)
    if lines and len(lines) > 1:
        line = "; ".join(" ".join(each.split()) for each in lines)
    if output in (Output.JSON, Output.YAML):
        from shifter.report import make_reporter

        reporter = make_reporter(str(output), github=False)
        reporter.emit("summary", outcome="error", exit_code=code, reason=line)
        reporter.close()
    return typer.Exit(code)


@contextmanager
def exit_codes(output: str = "text") -> Iterator[None]:
    """Turn shifter's errors into their exit codes with one line on stderr."""
    from shifter.errors import ShifterError

    try:
        yield
    except ShifterError as exc:
        raise fail(str(exc), exc.exit_code, output, getattr(exc, "errors", None)) from None


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
