"""Render a check's PromQL template: replace ``{name}`` placeholders, nothing else.

A placeholder is ``{`` + an identifier + ``}`` with nothing else inside the braces. PromQL
label matchers always contain an operator (``{job="x"}``, ``{code=~"5.."}``), so they never
look like a placeholder and pass through untouched; a bare ``{identifier}`` is never valid
PromQL, so one that is not a known placeholder is a config error rather than a typo that
Prometheus would report later with a less useful message.

Placeholders:

``{namespace}``, ``{release}``, ``{ingress}``, ``{route}``
    verbatim from the :class:`RenderContext`.
``{service}``, ``{services}``
    both colours' Service names as a PromQL regex alternation (``shop-blue|shop-green``),
    each escaped for a PromQL regex inside a double-quoted string; use them as
    ``service=~"{services}"`` so one query returns both colours.
``{live_service}``, ``{new_service}``
    one colour's Service name, verbatim.
``{window}``
    the evaluation window as a PromQL duration (``17s``).
``{start}``
    the unix time the window starts (the weight change), for the ``@`` modifier:
    ``x - last_over_time(x[5m] @ {start})`` counts exactly what happened since, without
    extrapolation (not ``x - x @ {start}``: a failed scrape at the change leaves no
    instant value there; see ``presets.since``).
any key of ``RenderContext.extra``, and a preset's defaults for extra keys
    verbatim (a preset default is itself a template, rendered first).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shifter.durations import prom_window
from shifter.errors import InvalidInput

from .checks import RenderContext

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
BUILTIN = (
    "namespace", "release", "service", "services", "live_service", "new_service",
    "ingress", "route", "window", "start",
)
_RE2_META = set("\\.+*?()|[]{}^$")


def promql_regex_escape(text: str) -> str:
    """Escape ``text`` to match literally in a PromQL regex inside a double-quoted string."""
    out = []
    for ch in text:
        if ch in _RE2_META:
            out.append("\\\\" + ch)  # regex escape, itself escaped for the string literal
        elif ch == '"':
            out.append('\\"')
        else:
            out.append(ch)
    return "".join(out)


def placeholders(template: str) -> list[str]:
    """The placeholder names used in ``template``, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


def values_for(
    ctx: RenderContext,
    window_seconds: float,
    defaults: Mapping[str, str] | None = None,
    *,
    check: str = "",
    start: float = 0.0,
) -> dict[str, str]:
    """Every placeholder's value for ``ctx`` (defaults rendered, ``extra`` wins over them)."""
    both = "|".join(promql_regex_escape(s) for s in (ctx.live_service, ctx.new_service))
    values = {
        "namespace": ctx.namespace,
        "release": ctx.release,
        "service": both,
        "services": both,
        "live_service": ctx.live_service,
        "new_service": ctx.new_service,
        "ingress": ctx.ingress,
        "route": ctx.route,
        "window": prom_window(window_seconds),
        "start": f"{start:.3f}",
    }
    for key in ctx.extra:
        if key in values or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise InvalidInput(
                f"analysis.extra: {key!r} cannot be a placeholder name "
                "(expected an identifier that is not a built-in placeholder)"
            )
    base = {**values, **ctx.extra}
    for key, template in (defaults or {}).items():
        if key not in ctx.extra:
            values[key] = _substitute(template, base, f"{check}: default for {{{key}}}")
    values.update(ctx.extra)
    return values


def render(
    template: str,
    ctx: RenderContext,
    window_seconds: float,
    *,
    check: str,
    defaults: Mapping[str, str] | None = None,
    start: float = 0.0,
) -> str:
    """Render ``template``; an unknown placeholder raises ``InvalidInput`` naming ``check``."""
    values = values_for(ctx, window_seconds, defaults, check=check, start=start)
    return _substitute(template, values, check)


def check_template(template: str, *, check: str, known: set[str]) -> None:
    """Raise ``InvalidInput`` when ``template`` uses a placeholder outside ``known``."""
    for name in placeholders(template):
        if name not in known:
            raise _unknown(check, name, known)


def _substitute(template: str, values: Mapping[str, str], check: str) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise _unknown(check, name, set(values))
        return values[name]

    return PLACEHOLDER.sub(one, template)


def _unknown(check: str, name: str, known: set[str]) -> InvalidInput:
    return InvalidInput(
        f"analysis.checks[{check}]: unknown placeholder {{{name}}} "
        f"(expected one of {', '.join('{' + k + '}' for k in sorted(known))})"
    )
