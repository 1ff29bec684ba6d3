"""The GitHub Action and the GitLab example are well-formed (lint of their YAML)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.contract
REPO = Path(__file__).parents[2]


def action() -> dict:
    return yaml.safe_load((REPO / "action.yml").read_text())


def test_action_is_a_composite_action_with_the_documented_outputs():
    a = action()
    assert {"name", "description", "inputs", "outputs", "runs"} <= set(a)
    assert a["runs"]["using"] == "composite"
    assert set(a["outputs"]) == {"outcome", "exit_code", "live_colour", "new_colour", "reason"}
    ids = {s.get("id") for s in a["runs"]["steps"]}
    for name, out in a["outputs"].items():
        assert out["value"] == f"${{{{ steps.shift.outputs.{name} }}}}" and "shift" in ids
    for step in a["runs"]["steps"]:
        assert step["shell"] == "bash" and "run" in step  # composite run steps need a shell


def test_every_input_is_used_and_never_interpolated_into_a_script():
    a = action()
    used = set()
    for step in a["runs"]["steps"]:
        assert "${{" not in step["run"], "inputs reach scripts through env, not the text"
        for value in (step.get("env") or {}).values():
            used |= set(re.findall(r"inputs\.([\w-]+)", str(value)))
    assert used == set(a["inputs"])
    for spec in a["inputs"].values():
        assert spec["description"] and ("default" in spec or spec.get("required"))


def test_action_flags_exist_on_shifter_run():
    from typer.testing import CliRunner

    from shifter.cli.app import app

    help_text = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    script = next(s["run"] for s in action()["runs"]["steps"] if s.get("id") == "shift")
    for flag in set(re.findall(r"(--[a-z-]+)", script)):
        assert flag in help_text, flag


def test_gitlab_example_is_a_job_that_fails_unless_promoted():
    data = yaml.safe_load((REPO / "examples" / "gitlab-ci.yml").read_text())
    job = data["shift-traffic"]
    assert job["stage"] in data["stages"]
    assert any("shifter run" in line for line in job["script"])
    assert job["script"][-1] == "exit $code"
