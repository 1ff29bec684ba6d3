"""GitHub Actions: step outputs, error annotations and log groups (pure text + one file write).

* ``GITHUB_OUTPUT`` set: the final ``summary`` event appends ``outcome``, ``exit_code``,
  ``live_colour``, ``new_colour`` and ``reason`` to that file (``name<<DELIMITER`` form,
  so a reason with any characters cannot break the file).
* ``GITHUB_ACTIONS=true``: a summary with a non-zero exit code prints an ``::error::``
  annotation, and each step of a text-mode run is a ``::group::`` in the log.

Workflow commands go to stdout with ``--output text``; with ``json``/``yaml`` stdout stays
machine-readable and they go to stderr, which the runner parses for commands too (both
streams go through an ``OutputManager`` with the ``ActionCommandManager`` in
actions/runner ``src/Runner.Worker/Handlers/ScriptHandler.cs``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any, TextIO

from shifter.redact import scrub_text


def escape_data(text: str) -> str:
    """A workflow command's message (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def outputs(summary: Mapping[str, Any]) -> dict[str, str]:
    """The step outputs of a finished run: the colour live now and the one rolled out."""
    new = summary.get("new")
    live = summary.get("live")
    live_now = new if summary.get("outcome") == "promoted" else live
    return {"outcome": str(summary.get("outcome", "")),
            "exit_code": str(summary.get("exit_code", "")),
            "live_colour": str(live_now or ""), "new_colour": str(new or ""),
            "reason": str(summary.get("reason", ""))}


def output_file_text(values: Mapping[str, str]) -> str:
    """``GITHUB_OUTPUT`` lines; multi-line-safe heredoc form for every value."""
    lines = []
    for name, value in values.items():
        delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
        lines += [f"{name}<<{delimiter}", value, delimiter]
    return "\n".join(lines) + "\n"


def error_annotation(summary: Mapping[str, Any]) -> str:
    title = f"shifter: {summary.get('release', '')} {summary.get('outcome', '')}".strip()
    return (f"::error title={escape_property(title)}::"
            f"{escape_data(str(summary.get('reason', '')))} (exit {summary.get('exit_code')})")


class GitHub:
    """Writes outputs, annotations and groups as events pass (a no-op outside Actions)."""

    def __init__(self, stream: TextIO, env: Mapping[str, str] | None = None, *,
                 groups: bool = True) -> None:
        env = os.environ if env is None else env
        self.output_path = env.get("GITHUB_OUTPUT") or None
        self.actions = env.get("GITHUB_ACTIONS") == "true"
        self.stream = stream
        self.groups = groups and self.actions
        self._open = False

    def before(self, event: str, fields: Mapping[str, Any]) -> None:
        """Called before an event is written: open or close a log group."""
        if not self.groups:
            return
        if event in ("step", "revert", "promote", "summary") and self._open:
            self._write("::endgroup::")
            self._open = False
        if event == "step":
            self._write(f"::group::step {fields.get('step')}/{fields.get('steps')}: "
                        f"{fields.get('weight')}% on {fields.get('new')}")
            self._open = True

    def after(self, event: str, fields: Mapping[str, Any]) -> None:
        if event != "summary":
            return
        if self.actions and int(fields.get("exit_code") or 0) != 0:
            self._write(error_annotation(fields))
        if self.output_path:
            try:
                with open(self.output_path, "a") as fh:
                    fh.write(scrub_text(output_file_text(outputs(fields))))
            except OSError:
                pass

    def close(self) -> None:
        if self._open:
            self._write("::endgroup::")
            self._open = False

    def _write(self, line: str) -> None:
        self.stream.write(scrub_text(line) + "\n")
        self.stream.flush()
