"""JSON Schemas shipped with shifter: the events (``events.schema.json``) and shift.yaml
(generated from the pydantic model by ``config_schema``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def events_schema() -> dict[str, Any]:
    """The JSON Schema every stdout event validates against (``docs/events.md``)."""
    text = resources.files(__package__).joinpath("events.schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def config_schema() -> dict[str, Any]:
    from shifter.schemas.config import config_schema as build

    return build()
