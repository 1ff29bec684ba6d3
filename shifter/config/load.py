"""Loading the configuration: the file, flag overrides merged over it, validation, and
pydantic's errors as one line naming the field (``shifter.config``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shifter import redact
from shifter.config.models import Config, _is_http_url
from shifter.errors import ConfigError
from shifter.plan import make_plan
from shifter.yamlload import load_mapping


def field_path(parts: tuple[Any, ...]) -> str:
    """A pydantic error location as the config spells it: ``notify[0].url``."""
    out = ""
    for p in parts:
        if str(p).startswith("function-"):
            continue
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def describe_error(err: Mapping[str, Any]) -> str:
    """One pydantic error as one line: ``field.path: what was expected, got ...``."""
    loc = field_path(tuple(err.get("loc", ())))
    msg = str(err.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    elif err.get("type") == "missing":
        msg = "required field is missing"
    elif err.get("type") == "finite_number":
        msg = "expected a finite number"
    value = err.get("input")
    if err.get("type") not in ("missing", "extra_forbidden", "value_error") and (
            isinstance(value, str | int | float) and not isinstance(value, bool)):
        shown = value if not isinstance(value, str) or len(value) <= 60 else value[:60] + "..."
        msg += f", got {shown!r}"
    elif err.get("type") not in ("missing", "extra_forbidden", "value_error") and isinstance(
            value, list | dict):
        msg += f", got a {'list' if isinstance(value, list) else 'mapping'}"
    return f"{loc}: {msg}" if loc else msg


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping within ``shifter.yamlload``'s limits (size, depth, aliases,
    duplicate keys); a missing or malformed file is a ConfigError naming it."""
    return load_mapping(path, field="file")


def merge(file_data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Apply flag overrides (dotted keys like ``analysis.preset``; None = not given)."""
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v)
                           for k, v in file_data.items()}
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "router.kind":
            current = out.get("router")
            current = {"kind": current} if isinstance(current, str) else dict(current or {})
            if current.get("kind", value) != value:
                current = {}  # another router's fields do not carry over
            current["kind"] = value
            out["router"] = current
            continue
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.get(part)
            node[part] = dict(child) if isinstance(child, dict) else {}
            node = node[part]
        node[leaf] = value
    return out


def build_config(data: Mapping[str, Any]) -> Config:
    """Validate, then check the environment it names; the first error becomes one
    ConfigError line. The secrets found in ``data`` are registered with ``shifter.redact``
    first, so no message (nor any later output) can show them."""
    redact.register(*redact.secrets_in(data))
    try:
        cfg = Config.model_validate(dict(data))
    except ValidationError as exc:
        errors = exc.errors()
        first = describe_error(errors[0])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError("", redact.scrub_text(first + more)) from None
    check_plan(cfg)
    check_environment(cfg)
    return cfg


def plan_error(exc: ConfigError) -> ConfigError:
    """The plan's error under the config's own field name (``step_deadline``)."""
    if exc.field != "deadline":
        return exc
    return ConfigError("step_deadline", str(exc).split(": ", 1)[-1])


def check_plan(cfg: Config) -> None:
    """The step plan can be built (interval above 0, deadline at least the bake time), so a
    bad one is found with the rest of the file, before the cluster is contacted."""
    try:
        make_plan(cfg.steps, bake=cfg.bake, interval=cfg.interval, deadline=cfg.step_deadline,
                  max_consecutive_failures=cfg.failure_limits.consecutive,
                  max_total_failures=cfg.failure_limits.total, gates=cfg.gated_weights,
                  approval_timeout=cfg.approval_timeout, watch=cfg.after_promotion.watch)
    except ConfigError as exc:
        err = plan_error(exc)
        if err is exc:
            raise
        raise err from None


def check_environment(cfg: Config) -> None:
    """What the config takes from the environment is there and valid (webhook URLs from
    ``url_env``), so that ``run`` finds it before anything is written."""
    for i, hook in enumerate(cfg.notify):
        if hook.url_env is None:
            continue
        value = os.environ.get(hook.url_env, "")
        if not value:
            raise ConfigError(f"notify[{i}].url_env",
                              f"environment variable {hook.url_env} is not set")
        redact.register(value)
        if not _is_http_url(value):
            raise ConfigError(f"notify[{i}].url_env", f"environment variable {hook.url_env} "
                                                      f"does not hold an http(s) URL")


def load_config(path: str | Path | None, overrides: Mapping[str, Any]) -> Config:
    """File (if any) plus flags, validated."""
    data = load_file(path) if path else {}
    return build_config(merge(data, overrides))
