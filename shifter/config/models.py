"""The whole rollout's model, ``Config``, with its ``notify`` webhooks, failure limits and
approval gates in ``steps`` (``shifter.config``)."""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from shifter import redact
from shifter.config.analysis import Analysis
from shifter.config.base import Duration, _Model
from shifter.config.deploy import AfterPromotion, AfterRevert, Deploy, PreTraffic, Preview, Smoke
from shifter.errors import ConfigError
from shifter.plan import DEFAULT_STEPS, parse_steps, validate_steps

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


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
