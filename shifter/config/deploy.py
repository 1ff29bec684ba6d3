"""The models of what runs around the traffic shift: before it (``deploy``, ``smoke``,
``pre_traffic``, ``preview``) and after it (``after_promotion``, ``after_revert``)
(``shifter.config``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from shifter.config.base import Duration, _Model


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


class AfterPromotion(_Model):
    """What happens after the promotion (``shifter.aftercare``)."""

    watch: Duration = Field(0.0, ge=0)  # judge the new live colour this long; fail: flip back
    scale_down: Duration | None = Field(None, ge=0)  # scale the old colour down this long after
    scale_down_to: int = Field(0, ge=0)  # replicas the old colour is scaled down to


class AfterRevert(_Model):
    """What happens to a reverted new colour."""

    scale_down: Duration | None = Field(None, ge=0)
    scale_down_to: int = Field(0, ge=0)
