"""What every shift.yaml model shares: the strict base model and the ``Duration`` type
(``shifter.config``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from shifter.durations import parse_duration


def _duration(value: Any) -> float:
    """Go-style durations only (``500ms``, ``1m30s``); a bare number is an error."""
    return parse_duration(value)  # its ValueError names what was expected


Duration = Annotated[float, BeforeValidator(_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
