"""The configuration: a YAML file (``-f shift.yaml``) merged with flags, validated by pydantic.

Precedence: flags > file > defaults. Every error names the field path and what was expected
and is raised as ``ConfigError`` (exit 2) before anything in the cluster is touched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shifter import redact
from shifter.durations import parse_duration
from shifter.errors import ConfigError
from shifter.plan import DEFAULT_STEPS, make_plan, parse_steps, validate_steps
from shifter.yamlload import load_mapping

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _duration(value: Any) -> float:
    """Go-style durations only (``500ms``, ``1m30s``); a bare number is an error."""
    return parse_duration(value)  # its ValueError names what was expected


Duration = Annotated[float, BeforeValidator(_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CustomCheck(_Model):
    """A user's own check: a PromQL template returning one value per colour's Service."""

    name: str
    query: str
    kind: Literal["threshold", "error_rate", "latency"] = "threshold"
    max: float
    max_over_baseline: float | None = None
    quantile: float = Field(0.99, gt=0, lt=1)


class PrometheusAuth(_Model):
    """How to reach a secured or managed Prometheus (``shifter.analysis.promauth``).
    Secrets are never in the file: tokens come from a file or the environment and are
    re-read on every query, so a rotated token is picked up."""

    bearer_token_file: str | None = None
    bearer_token_env: str | None = None
    basic_auth_username_env: str | None = None
    basic_auth_password_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    ca_file: str | None = None
    insecure_skip_verify: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> PrometheusAuth:
        bearer = bool(self.bearer_token_file) + bool(self.bearer_token_env)
        basic = bool(self.basic_auth_username_env) or bool(self.basic_auth_password_env)
        if bearer > 1 or (bearer and basic):
            raise ValueError("expected one of bearer_token_file, bearer_token_env or "
                             "basic_auth_*_env")
        if basic and not (self.basic_auth_username_env and self.basic_auth_password_env):
            raise ValueError("expected both basic_auth_username_env and "
                             "basic_auth_password_env")
        if self.ca_file and self.insecure_skip_verify:
            raise ValueError("expected ca_file or insecure_skip_verify, not both")
        return self


class Analysis(_Model):
    """Where the metrics are and what the new colour must meet."""

    prometheus: str = "http://127.0.0.1:9090"
    prometheus_auth: PrometheusAuth = PrometheusAuth()
    preset: str = "app"
    max_error_rate: float | None = Field(0.01, ge=0, le=1)
    max_error_rate_over_baseline: float | None = Field(0.01, ge=0, le=1)
    max_latency_p99: Duration | None = 0.5
    max_latency_over_baseline: float | None = Field(1.5, ge=1)
    min_requests: int = Field(50, ge=1)
    alpha: float = Field(0.01, gt=0, lt=0.5)
    timeout: Duration = 5.0
    checks: list[CustomCheck] = Field(default_factory=list)
    # Prometheus unreachable or failing queries for longer than this: revert, exit 5.
    max_unavailable: Duration = Field(60.0, ge=0)
    # A step passes once the upper bound is <= (1 + this) x max(limit, live colour's rate).
    pass_tolerance: float = Field(1.5, ge=0, le=10)
    # The live colour's rates recorded before the first step (default: max(bake, 60s)).
    baseline_window: Duration | None = Field(None, gt=0)

    @field_validator("prometheus")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"expected an http(s) URL, got "
                             f"{redact.strip_url_credentials(v)!r}")
        return v.rstrip("/")


class Smoke(_Model):
    """An HTTP check of the new colour's Service before any traffic moves."""

    url: str
    name: str = ""
    method: str = "GET"
    expect_status: int = Field(200, ge=100, le=599)
    timeout: Duration = 5.0
    retries: int = Field(2, ge=0, le=20)
    # Values of secret names are masked; values may use {colour}.
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _header_templates(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            try:
                value.format(colour="blue", color="blue")
            except (KeyError, IndexError, ValueError):
                raise ValueError(f"header {name}: the only placeholder is {{colour}} (write "
                                 f"{{{{ and }}}} for literal braces)") from None
        return v

    @field_validator("url")
    @classmethod
    def _template(cls, v: str) -> str:
        from shifter.smoke import check_url_template

        check_url_template(v)
        return v

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        from shifter.smoke import METHODS

        if v.upper() not in METHODS:
            raise ValueError(f"expected one of {', '.join(sorted(METHODS))}, got {v!r}")
        return v.upper()

    @field_validator("timeout")
    @classmethod
    def _positive(cls, v: float) -> float:
        if not v > 0:
            raise ValueError("expected a duration above 0, like 2s")
        return v


class Deploy(_Model):
    """What the run deploys to the idle colour before any traffic moves (shifter.release)."""

    images: dict[str, str] = Field(default_factory=dict)  # container ("" = the only one)
    env: dict[str, str] = Field(default_factory=dict)  # set in every container
    template_patch: dict[str, Any] | None = None  # strategic-merge patch of the pod template
    ready_timeout: Duration = 600.0
    allow_same: bool = False

    @property
    def changes_template(self) -> bool:
        return bool(self.images or self.env or self.template_patch)


class PreTraffic(_Model):
    """A command run after the new colour is ready and before any weight moves."""

    run: str = Field(min_length=1)
    name: str = ""
    timeout: Duration = 300.0
    shell: bool = False
    env: dict[str, str] = Field(default_factory=dict)


class Preview(_Model):
    """A header route to the new colour for the whole rollout (``header: <colour>``)."""

    header: str = Field("X-Shifter-Preview", pattern=r"^[A-Za-z0-9-]+$")
    url: str | None = None  # where the router is reached (SHIFTER_PREVIEW_URL)


class Notify(_Model):
    """A webhook; ``url_env`` names an environment variable holding the (secret) URL."""

    url: str | None = None
    url_env: str | None = None
    format: Literal["json", "slack"] = "json"
    events: list[str] | None = None

    @model_validator(mode="after")
    def _one_url(self) -> Notify:
        if bool(self.url) == bool(self.url_env):
            raise ValueError("expected exactly one of url or url_env")
        return self

    @field_validator("url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not _is_http_url(v):
            raise ValueError(f"expected an http:// or https:// URL, got {redact.redact_url(v)}")
        return v

    @field_validator("events")
    @classmethod
    def _events(cls, v: list[str] | None) -> list[str] | None:
        from shifter.notify import EVENTS

        unknown = sorted(set(v or ()) - EVENTS)
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; expected any of "
                             f"{', '.join(sorted(EVENTS))}")
        return v

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        value = os.environ.get(self.url_env or "", "")
        if not value:
            raise ConfigError("notify.url_env", f"environment variable {self.url_env} is not set")
        return value


def _is_http_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


class AfterPromotion(_Model):
    """What happens after the promotion (``shifter.aftercare``)."""

    watch: Duration = Field(0.0, ge=0)  # judge the new live colour this long; fail: flip back
    scale_down: Duration | None = Field(None, ge=0)  # scale the old colour down this long after
    scale_down_to: int = Field(0, ge=0)  # replicas the old colour is scaled down to


class AfterRevert(_Model):
    """What happens to a reverted new colour."""

    scale_down: Duration | None = Field(None, ge=0)
    scale_down_to: int = Field(0, ge=0)


def split_gates(v: Any) -> tuple[Any, tuple[int, ...]]:
    """``steps`` with ``{weight: N, approve: true}`` entries: the weights, and the weights
    whose step waits for approval. Anything else is left for the weights' own validation."""
    if not isinstance(v, list | tuple):
        return v, ()
    weights: list[Any] = []
    gates: list[int] = []
    for i, item in enumerate(v):
        if isinstance(item, dict):
            unknown = sorted(set(item) - {"weight", "approve"})
            if unknown or "weight" not in item:
                raise ConfigError(f"steps[{i}]", "expected a percent or {weight: N, "
                                                 "approve: true}")
            if not isinstance(item.get("approve", False), bool):
                raise ConfigError(f"steps[{i}].approve", "expected true or false")
            if item.get("approve"):
                gates.append(item["weight"])
            item = item["weight"]
        weights.append(item)
    return weights, tuple(gates)


class FailureLimits(_Model):
    consecutive: int = Field(1, ge=1)
    total: int = Field(1, ge=1)


class Config(_Model):
    """A whole rollout's configuration."""

    release: str
    namespace: str | None = None
    router: dict[str, Any] = Field(default_factory=lambda: {"kind": "nginx"})
    services: dict[Literal["blue", "green"], str] | None = None
    deployments: dict[Literal["blue", "green"], str] | None = None
    steps: tuple[int, ...] = DEFAULT_STEPS
    # Weights whose step waits for ``shifter approve`` (set by ``{weight: N, approve: true}``
    # in ``steps``, or 100 by ``approve_before_promote``).
    gates: tuple[int, ...] = ()
    approve_before_promote: bool = False
    approval_timeout: Duration = Field(3600.0, gt=0)
    after_promotion: AfterPromotion = AfterPromotion()
    after_revert: AfterRevert = AfterRevert()
    bake: Duration = 60.0
    interval: Duration = 10.0
    step_deadline: Duration | None = None
    failure_limits: FailureLimits = FailureLimits()
    analysis: Analysis = Analysis()
    smoke: list[Smoke] = Field(default_factory=list)
    notify: list[Notify] = Field(default_factory=list)
    on_interrupt: Literal["revert", "hold"] = "revert"
    strict: bool = False  # an unmeetable step deadline is an error, not a warning
    deploy: Deploy = Deploy()
    pre_traffic: list[PreTraffic] = Field(default_factory=list)
    preview: Preview | None = None
    # The new colour's URL for pre_traffic commands: a template ({service}, {namespace},
    # {colour}) or one URL per colour.
    new_url: str | dict[Literal["blue", "green"], str] = (
        "http://{service}.{namespace}.svc.cluster.local")

    @model_validator(mode="before")
    @classmethod
    def _gates(cls, data: Any) -> Any:
        if isinstance(data, dict) and "steps" in data:
            weights, gates = split_gates(data["steps"])
            if gates:
                data = {**data, "steps": weights,
                        "gates": tuple(sorted({*data.get("gates", ()), *gates}))}
        return data

    @property
    def gated_weights(self) -> tuple[int, ...]:
        """Every gated weight, 100 included under ``approve_before_promote``."""
        return tuple(sorted({*self.gates, *((100,) if self.approve_before_promote else ())}))

    @field_validator("release")
    @classmethod
    def _release(cls, v: str) -> str:
        if not _NAME.match(v) or len(v) > 50:
            raise ValueError(f"expected a DNS-1123 label (lowercase letters, digits, '-'), "
                             f"got {v!r}")
        return v

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, v: Any) -> tuple[int, ...]:
        try:
            if isinstance(v, str):
                return parse_steps(v)
            if isinstance(v, list | tuple):
                return validate_steps(list(v))
        except ConfigError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None
        raise ValueError("expected a list of percents like [10, 50, 100]")

    @field_validator("router", mode="before")
    @classmethod
    def _router(cls, v: Any) -> dict[str, Any]:
        if isinstance(v, str):
            return {"kind": v}
        if not isinstance(v, dict) or not isinstance(v.get("kind", "nginx"), str):
            raise ValueError("expected a mapping with 'kind' (nginx, gateway, istio, service)")
        return {"kind": "nginx", **v}

    @property
    def router_kind(self) -> str:
        return str(self.router.get("kind", "nginx"))

    def service(self, colour: str) -> str:
        return (self.services or {}).get(colour, f"{self.release}-{colour}")  # type: ignore[call-overload, no-any-return]

    def deployment(self, colour: str) -> str:
        return (self.deployments or {}).get(colour, self.service(colour))  # type: ignore[call-overload, no-any-return]


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
