"""``shifter config-schema``: the JSON Schema of shift.yaml, generated from the model."""

from __future__ import annotations

import json


def config_schema() -> None:
    """Print the JSON Schema of shift.yaml (for editors, e.g. yaml-language-server)."""
    from shifter.schemas import config_schema as build

    print(json.dumps(build(), indent=2, sort_keys=True))
