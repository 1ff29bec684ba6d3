"""The ``analysis`` models: where the metrics are (Prometheus and how to reach it) and
what the new colour must meet (``shifter.config``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from shifter import redact
from shifter.config.base import Duration, _Model


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
