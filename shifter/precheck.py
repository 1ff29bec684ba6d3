"""Everything ``run`` would reject that can be known without the cluster, all at once.

``run``, ``run --dry-run`` and ``validate`` go through ``load_checked``: the file and the
flags merged (flags > environment > file, e.g. ``--prometheus``, then
``SHIFTER_PROMETHEUS_URL``, then ``analysis.prometheus``), the whole model validated, then
each part built as ``run`` builds it (router section, checks and their placeholders,
plan, smoke templates, webhooks and their ``url_env`` variables). Every error found is
reported, not only the first, and an unknown field gets a "did you mean" suggestion.
Nothing here touches the cluster or Prometheus.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from shifter.errors import ConfigError, InvalidInput, ShifterError


class ConfigErrors(InvalidInput):
    """Several configuration errors (exit 2); ``errors`` holds one line each."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(self.errors[0] + more if self.errors else "invalid configuration")


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The pydantic model that holds the field at ``loc`` (for suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type)
                                         and issubclass(current, BaseModel)):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def suggestion(word: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def describe_errors(exc: ValidationError, model: type[BaseModel], prefix: str = ""
                    ) -> list[str]:
    """One line per pydantic error: ``field.path: what was expected``."""
    from shifter.config import describe_error, field_path

    lines: list[str] = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if not str(p).startswith("function-")]
        if err.get("type") == "extra_forbidden":
            holder = _model_at(model, loc[:-1])
            known = sorted(holder.model_fields) if holder is not None else []
            path = prefix + field_path(tuple(loc))
            lines.append(f"{path}: unknown field" + suggestion(str(loc[-1]), known))
            continue
        line = describe_error(err)
        lines.append(prefix + line if loc else line)
    return lines


def _collect(errors: list[str], fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ConfigErrors as exc:
        errors.extend(exc.errors)
    except ShifterError as exc:
        errors.append(str(exc))
    return None


def router_errors(kind: str, section: Mapping[str, Any]) -> list[str]:
    from shifter.routers.registry import config_model

    try:
        model = config_model(kind)
    except ConfigError as exc:
        return [str(exc)]
    raw = {k: v for k, v in section.items() if k != "kind"}
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        return describe_errors(exc, model, "router.")
    return []


def offline_errors(cfg: Any) -> list[str]:
    """Build every part as ``run`` does, collecting each part's error."""
    from shifter import wiring
    from shifter.analysis import promauth
    from shifter.config import plan_error
    from shifter.notify import Webhook
    from shifter.plan import make_plan
    from shifter.routers.registry import ROUTERS

    errors = router_errors(cfg.router_kind, cfg.router)
    _collect(errors, lambda: promauth.check(cfg.analysis.prometheus_auth))
    _collect(errors, lambda: wiring.make_checks(cfg))
    router_cls = ROUTERS.get(cfg.router_kind)
    if router_cls is not None:
        def plan() -> None:
            try:
                make_plan(cfg.steps, bake=cfg.bake, interval=cfg.interval,
                          deadline=cfg.step_deadline,
                          supports_partial=bool(getattr(router_cls, "supports_partial", True)),
                          max_consecutive_failures=cfg.failure_limits.consecutive,
                          max_total_failures=cfg.failure_limits.total,
                          gates=cfg.gated_weights, approval_timeout=cfg.approval_timeout,
                          watch=cfg.after_promotion.watch)
            except ConfigError as exc:
                raise plan_error(exc) from None
        _collect(errors, plan)
    _collect(errors, lambda: wiring.make_smoke(cfg, "green"))
    for i, n in enumerate(cfg.notify):
        def hook(n: Any = n, i: int = i) -> None:
            try:
                url = n.resolved_url()
            except ConfigError as exc:
                raise ConfigError(f"notify[{i}].url_env", str(exc).split(": ", 1)[-1]) from None
            Webhook(url=url, format=n.format,
                    events=frozenset(n.events) if n.events else None)
        _collect(errors, hook)
    return errors


def load_checked(path: str | Path | None, overrides: Mapping[str, Any]) -> Any:
    """The validated ``Config`` of ``path`` plus flag ``overrides``; every error at once."""
    from shifter import redact
    from shifter.config import Config, check_environment, load_file, merge

    data = merge(load_file(path) if path else {}, overrides)
    # Secrets are known before any message is built, so none can show them.
    redact.register(*redact.secrets_in(data))
    try:
        cfg = Config.model_validate(dict(data))
    except ValidationError as exc:
        errors = describe_errors(exc, Config)
        router = data.get("router")
        if isinstance(router, Mapping) and isinstance(router.get("kind"), str):
            errors += router_errors(router["kind"], router)
        raise ConfigErrors([redact.scrub_text(e) for e in errors]) from None
    errors = offline_errors(cfg)
    _collect(errors, lambda: check_environment(cfg))
    if errors:
        raise ConfigErrors([redact.scrub_text(e) for e in dict.fromkeys(errors)])
    return cfg
