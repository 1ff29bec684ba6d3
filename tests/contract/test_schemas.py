"""Schemas from the model: ``shifter config-schema`` and the chart's values.schema.json are
generated from the pydantic model, and the committed chart file is what the generator
writes (regenerate with ``python -m shifter.schemas.chart``)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from shifter.cli.app import app
from shifter.schemas.chart import chart_values_schema, render

pytestmark = pytest.mark.contract
REPO = Path(__file__).parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml")) + sorted(
    (REPO / "manifests" / "demo").glob("shift-*.yaml"))


def test_the_chart_schema_is_generated_from_the_model():
    committed = (REPO / "charts" / "shifter" / "values.schema.json").read_text()
    assert committed == render(), "run: python -m shifter.schemas.chart"


def test_config_schema_command_prints_a_valid_schema_the_examples_satisfy():
    result = CliRunner().invoke(app, ["config-schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in EXAMPLES:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], path


@pytest.mark.parametrize("value,ok", [("1m30s", True), ("500ms", True), ("2h", True),
                                      ("60", False), ("1 m", False), ("10sec", False)])
def test_durations_are_the_cli_syntax_in_both_schemas(value, ok):
    from shifter.durations import parse_duration
    from shifter.schemas import config_schema

    for schema, draft in ((config_schema(), jsonschema.Draft202012Validator),
                          (chart_values_schema(), jsonschema.Draft7Validator)):
        bake = schema["properties"]["bake"]
        assert draft(bake).is_valid(value) is ok, (value, bake)
    if ok:
        assert parse_duration(value) > 0


def test_a_misspelt_field_is_rejected_by_the_editor_schema_too():
    from shifter.schemas import config_schema

    validator = jsonschema.Draft202012Validator(config_schema())
    assert not validator.is_valid({"release": "shop", "bakee": "10s"})
    assert not validator.is_valid({"release": "shop", "router": {"kind": "nginx",
                                                                 "ingres": "x"}})
    assert validator.is_valid({"release": "shop", "router": "gateway", "steps": "10,100"})
