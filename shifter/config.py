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

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shifter.durations import parse_duration
from shifter.errors import ConfigError
from shifter.plan import DEFAULT_STEPS, parse_steps, validate_steps

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _duration(value: Any) -> float:
    try:
        return parse_duration(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"expected a duration like 500ms, 10s or 2m, got {value!r}") from exc


Duration = Annotated[float, BeforeValidator(_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomCheck(_Model):
    """A user's own check: a PromQL template returning one value per colour's Service."""

    name: str
    query: str
    kind: Literal["threshold", "error_rate", "latency"] = "threshold"
    max: float
    max_over_baseline: float | None = None
    quantile: float = Field(0.99, gt=0, lt=1)


class Analysis(_Model):
    """Where the metrics are and what the new colour must meet."""

    prometheus: str = "http://127.0.0.1:9090"
    preset: str = "app"
    max_error_rate: float | None = Field(0.01, ge=0, le=1)
    max_error_rate_over_baseline: float | None = Field(0.01, ge=0, le=1)
    max_latency_p99: Duration | None = 0.5
    max_latency_over_baseline: float | None = Field(1.5, ge=1)
    min_requests: int = Field(50, ge=1)
    alpha: float = Field(0.01, gt=0, lt=0.5)
    timeout: Duration = 5.0
    checks: list[CustomCheck] = Field(default_factory=list)

    @field_validator("prometheus")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"expected an http(s) URL, got {v!r}")
        return v.rstrip("/")


class Smoke(_Model):
    """An HTTP check of the new colour's Service before any traffic moves."""

    url: str
    name: str = ""
    method: str = "GET"
    expect_status: int = Field(200, ge=100, le=599)
    timeout: Duration = 5.0
    retries: int = Field(2, ge=0, le=20)
    headers: dict[str, str] = Field(default_factory=dict)  # values may use {colour}


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

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        value = os.environ.get(self.url_env or "", "")
        if not value:
            raise ConfigError("notify.url_env", f"environment variable {self.url_env} is not set")
        return value


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
    bake: Duration = 60.0
    interval: Duration = 10.0
    step_deadline: Duration | None = None
    failure_limits: FailureLimits = FailureLimits()
    analysis: Analysis = Analysis()
    smoke: list[Smoke] = Field(default_factory=list)
    notify: list[Notify] = Field(default_factory=list)
    on_interrupt: Literal["revert", "hold"] = "revert"
    deploy: Deploy = Deploy()
    pre_traffic: list[PreTraffic] = Field(default_factory=list)
    preview: Preview | None = None
    # The new colour's URL for pre_traffic commands: a template ({service}, {namespace},
    # {colour}) or one URL per colour.
    new_url: str | dict[Literal["blue", "green"], str] = (
        "http://{service}.{namespace}.svc.cluster.local")

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


def _describe(err: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()) if not str(p).startswith("function-"))
    msg = str(err.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    elif err.get("type") == "missing":
        msg = "required field is missing"
    value = err.get("input")
    if err.get("type") not in ("missing", "extra_forbidden", "value_error") and (
            isinstance(value, str | int | float) and not isinstance(value, bool)):
        msg += f", got {value!r}"
    return f"{loc}: {msg}" if loc else msg


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing or malformed file is a ConfigError naming it."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError("file", f"cannot read {p}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError("file", f"{p} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("file", f"expected a YAML mapping at the top of {p}")
    return data


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
    """Validate; the first error becomes one ConfigError line."""
    try:
        return Config.model_validate(dict(data))
    except ValidationError as exc:
        errors = exc.errors()
        first = _describe(errors[0])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError("", first + more) from None


def load_config(path: str | Path | None, overrides: Mapping[str, Any]) -> Config:
    """File (if any) plus flags, validated."""
    data = load_file(path) if path else {}
    return build_config(merge(data, overrides))
