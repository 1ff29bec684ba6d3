"""What people and CI see: rollout events as text lines or JSON lines on stdout.

``text`` is for people: one plain line per event (with a coloured, live-updating view when
stdout is a terminal); ``json`` is one JSON object per line, ending with a ``summary``
event, for CI. Logs are separate (structlog on stderr). With ``GITHUB_STEP_SUMMARY`` set,
a Markdown summary is appended there at the end; ``shifter.ci`` adds GitHub Actions
outputs, annotations and log groups.

Every event goes through ``normalize`` first: the one place that gives events their
documented shape (``docs/events.md``, JSON Schema ``shifter/schemas/events.schema.json``):
``schema`` version, ``release``/``namespace`` on each event, steps numbered from 1 as
``status`` numbers them, and colours (``new``, ``live``: ``blue``/``green``) kept apart
from Service names (``new_service``, ``live_service``). The engine counts steps from 0;
that is converted here and nowhere else.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, Protocol, TextIO

from shifter.durations import format_duration
from shifter.redact import scrub, scrub_text

SCHEMA = 1  # the event schema's version; bumped on an incompatible change
ZERO_BASED_STEP = frozenset({"step", "verdict", "awaiting_approval"})  # ``step`` comes 0-based
COLOURS = ("blue", "green")


def _colour_fields(out: dict[str, Any], services: Mapping[str, str]) -> None:
    """``new``/``live`` as colours, ``new_service``/``live_service`` as Service names,
    whichever of the two the emitter gave."""
    by_service = {v: k for k, v in services.items()}
    for key in ("new", "live"):
        value = out.get(key)
        if not isinstance(value, str):
            continue
        if value in COLOURS:
            if services.get(value):
                out.setdefault(f"{key}_service", services[value])
            continue
        out[f"{key}_service"] = value
        colour = by_service.get(value) or next(
            (c for c in COLOURS if value.endswith(f"-{c}")), None)
        out[key] = colour


def normalize(event: str, fields: Mapping[str, Any], *, release: str | None = None,
              namespace: str | None = None, services: Mapping[str, str] | None = None,
              now: float | None = None) -> dict[str, Any]:
    """The event as documented (pure): see the module docstring."""
    out: dict[str, Any] = {"schema": SCHEMA, "event": event,
                           "time": round(time.time() if now is None else now, 3)}
    if release is not None:
        out["release"] = release
    if namespace is not None:
        out["namespace"] = namespace
    out.update(fields)
    if event in ZERO_BASED_STEP and isinstance(out.get("step"), int):
        out["step"] += 1
    if event == "summary" and isinstance(out.get("history"), list):
        out["history"] = [{**h, "step": h["step"] + 1} if isinstance(h.get("step"), int)
                          else h for h in out["history"]]
    _colour_fields(out, services or {})
    return out


class Reporter(Protocol):
    def emit(self, event: str, **fields: Any) -> None: ...

    def close(self) -> None: ...


def _fmt_value(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _check_line(check: Mapping[str, Any]) -> str:
    return f"    {check.get('verdict', '?'):<12} {check.get('check')}: {check.get('reason', '')}"


class _Progress:
    """The live status line under the log on a terminal: step, weight, time, last verdict."""

    def __init__(self) -> None:
        self.text = "pre-flight"
        self.since: float | None = None
        self.bake: float | None = None
        self.verdict = ""

    def __rich__(self) -> Any:
        from rich.text import Text

        line = Text(f"  {self.text}", style="bold")
        if self.since is not None:
            elapsed = time.monotonic() - self.since
            line.append(f" · {format_duration(elapsed)}")
            if self.bake:
                line.append(f" of {format_duration(self.bake)} bake")
        if self.verdict:
            style = {"pass": "green", "fail": "red"}.get(self.verdict, "yellow")
            line.append(" · last verdict ")
            line.append(self.verdict, style=style)
        return line


class TextReporter:
    """Lines for people: plain when piped, coloured with a live status line on a terminal."""

    STYLES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}

    def __init__(self, stream: TextIO | None = None, *, verbose_queries: bool = True,
                 live: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.verbose_queries = verbose_queries
        self.started = time.monotonic()
        self._shown_queries: set[str] = set()
        self.progress = _Progress()
        self._live: Any = None
        self._console: Any = None
        if self.tty if live is None else live:
            from rich.console import Console
            from rich.live import Live

            self._console = Console(file=self.stream, highlight=False)
            self._live = Live(self.progress, console=self._console, refresh_per_second=4,
                              transient=True)
            self._live.start()

    def _write(self, text: str, style: str = "") -> None:
        text = scrub_text(text)  # the single write point of the text output
        if self._console is not None:
            self._console.print(text, style=style or None, markup=False, soft_wrap=True)
            return
        if self.tty and style:
            text = f"\033[{self.STYLES[style]}m{text}\033[0m"
        self.stream.write(text + "\n")
        self.stream.flush()

    def _line(self, text: str, style: str = "") -> None:
        stamp = f"[{format_duration(time.monotonic() - self.started):>6}] "
        self._write(stamp + text, style)

    def emit(self, event: str, **f: Any) -> None:
        handler = getattr(self, f"_on_{event}", None)
        if handler is not None:
            handler(f)
        else:
            msg = f.get("message") or ", ".join(f"{k}={_fmt_value(v)}" for k, v in f.items())
            self._line(f"{event}: {msg}")

    def _on_plan(self, f: Mapping[str, Any]) -> None:
        steps = " -> ".join(f"{w}%" for w in f["steps"])
        self._line(f"rollout {f['namespace']}/{f['release']} via {f['router']}: "
                   f"{f.get('live_service') or f['live']} -> "
                   f"{f.get('new_service') or f['new']} in steps {steps} "
                   f"(bake {format_duration(f['bake'])}, every "
                   f"{format_duration(f['interval'])})", "bold")
        if "alpha" in f:
            self._line(f"  false-revert budget {f['alpha']:g} for the whole rollout, split "
                       "among the checks (anytime-valid: any number of looks)", "dim")
        for line in f.get("timeline", []):
            self._line(line, "yellow" if "WARNING" in line else "dim")
        for c in f.get("changes", []):
            self._line(f"  would {c['verb']} {c['object']}: {c['summary']}")
            self._line(f"    {c['patch_type'] or 'application/json'}: "
                       f"{json.dumps(c['body'], sort_keys=True)}", "dim")

    def _on_preflight(self, f: Mapping[str, Any]) -> None:
        self._line(f"pre-flight: {f['message']}")

    def _on_step(self, f: Mapping[str, Any]) -> None:
        text = f"step {f['step']}/{f['steps']}: {f['weight']}% of traffic on {f['new']}"
        self._line(text, "bold")
        self.progress.text, self.progress.since = text, time.monotonic()
        self.progress.bake = f.get("bake")
        self.progress.verdict = ""

    def _on_verdict(self, f: Mapping[str, Any]) -> None:
        style = {"pass": "green", "fail": "red"}.get(f["verdict"], "yellow")
        self._line(f"step {f['step']} at {f['weight']}% after "
                   f"{format_duration(f['elapsed'])}: {f['verdict']}", style)
        self.progress.verdict = f["verdict"]
        for check in f.get("checks", []):
            self._write(_check_line(check))
            q = check.get("query", "")
            # Each check's query once (windows change every tick), and always on a failure.
            name = str(check.get("check"))
            if self.verbose_queries and q and (name not in self._shown_queries
                                               or check.get("verdict") == "fail"):
                self._shown_queries.add(name)
                shown = q.replace("\n", "\n             ")
                self._write(f"      query: {shown}", "dim")

    def _on_request(self, f: Mapping[str, Any]) -> None:
        self._line(f"operator request: {f['action']} (by {f.get('by', '?')})", "yellow")

    def _on_revert(self, f: Mapping[str, Any]) -> None:
        self._line(f"REVERTING: all traffic back to {f['live']}: {f['reason']}", "red")

    def _on_reverted(self, f: Mapping[str, Any]) -> None:
        self._line(f"reverted in {format_duration(f['seconds'])}: 100% on {f['live']}", "red")

    def _on_promote(self, f: Mapping[str, Any]) -> None:
        self._line(f"promoting {f['new']}: {f['reason']}", "green")

    def _on_awaiting_approval(self, f: Mapping[str, Any]) -> None:
        self._line(f"AWAITING APPROVAL at {f['weight']}% (step {f['step']}): run "
                   f"'{f['command']}' to go on to {f['next_weight']}% (analysis keeps "
                   f"running; reverted after {format_duration(f['timeout'])} without an "
                   f"answer)", "yellow")

    def _on_watch(self, f: Mapping[str, Any]) -> None:
        what = "resumed the watch of" if f.get("resumed") else "watching"
        self._line(f"promoted; {what} {f['new']} for {format_duration(f['seconds'])} "
                   f"(a failure flips all traffic back)", "green")

    def _on_summary(self, f: Mapping[str, Any]) -> None:
        self._stop_live()
        style = "green" if f["exit_code"] == 0 else "red"
        self._line(f"{f['outcome']} (exit {f['exit_code']}): {f['reason']}", style)

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def close(self) -> None:
        self._stop_live()
        self.stream.flush()


class JsonReporter:
    """One JSON object per line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def emit(self, event: str, **fields: Any) -> None:
        record = {"event": event, **fields}
        record.setdefault("time", round(time.time(), 3))
        line = json.dumps(record, default=str, separators=(",", ":"))
        self.stream.write(json.dumps(scrub(json.loads(line)), separators=(",", ":")) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class YamlReporter(JsonReporter):
    """One YAML document per event, ``---`` before each."""

    def emit(self, event: str, **fields: Any) -> None:
        import yaml

        record = json.loads(json.dumps({"event": event, **fields}, default=str))
        record.setdefault("time", round(time.time(), 3))
        self.stream.write("---\n" + yaml.safe_dump(record, sort_keys=False))
        self.stream.flush()


class Recorder:
    """The reporter every command gets: normalizes each event (``normalize``), keeps it
    for the Markdown summary, feeds GitHub Actions (``shifter.ci``) and passes it on."""

    def __init__(self, inner: Reporter, *, release: str | None = None,
                 namespace: str | None = None, services: Mapping[str, str] | None = None,
                 github: Any = None) -> None:
        self.inner = inner
        self.release, self.namespace = release, namespace
        self.services = dict(services or {})
        self.github = github
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, event: str, **fields: Any) -> None:
        record = normalize(event, fields, release=self.release or fields.get("release"),
                           namespace=self.namespace or fields.get("namespace"),
                           services=self.services)
        body = {k: v for k, v in record.items() if k != "event"}
        self.events.append((event, body))
        if self.github is not None:
            self.github.before(event, body)
        self.inner.emit(event, **body)
        if self.github is not None:
            self.github.after(event, body)

    def close(self) -> None:
        if self.github is not None:
            self.github.close()
        path = os.environ.get("GITHUB_STEP_SUMMARY")
        if path:
            try:
                with open(path, "a") as fh:
                    fh.write(scrub_text(markdown_summary(self.events)))
            except OSError:
                pass
        self.inner.close()


def markdown_summary(events: list[tuple[str, dict[str, Any]]]) -> str:
    plan = next((f for e, f in events if e == "plan"), {})
    summary: dict[str, Any] = next((f for e, f in reversed(events) if e == "summary"), {})
    lines = [f"### shifter: {plan.get('namespace', '?')}/{plan.get('release', '?')} "
             f"{summary.get('outcome', 'unfinished')}", ""]
    if summary:
        lines += [f"**{summary.get('reason', '')}** (exit {summary.get('exit_code')})", ""]
    lines += ["| step | weight | verdict | checks |", "| --- | --- | --- | --- |"]
    for e, f in events:
        if e == "verdict":
            checks = "<br>".join(f"{c.get('check')}: {c.get('reason', '')}"
                                 for c in f.get("checks", []))
            lines.append(f"| {f['step']} | {f['weight']}% | {f['verdict']} | {checks} |")
    return "\n".join(lines) + "\n\n"


def make_reporter(output: str, stream: TextIO | None = None, *, release: str | None = None,
                  namespace: str | None = None, services: Mapping[str, str] | None = None,
                  github: bool = True) -> Recorder:
    """``output`` is text, json or yaml; ``github=False`` leaves GitHub Actions alone."""
    from shifter.ci import GitHub

    inner: Reporter = (JsonReporter(stream) if output == "json" else
                       YamlReporter(stream) if output == "yaml" else TextReporter(stream))
    out = stream or sys.stdout
    gh = GitHub(out if output == "text" else sys.stderr, groups=output == "text") \
        if github else None
    return Recorder(inner, release=release, namespace=namespace, services=services,
                    github=gh)
