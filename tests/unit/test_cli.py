"""The CLI contract through Typer's CliRunner: help, exit codes, one-line errors."""

from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from shifter.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    structlog.reset_defaults()
EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_root_help_lists_commands_and_exit_codes():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "status", "validate", "abort", "promote", "pause", "resume"):
        assert command in result.output
    assert "6 another run holds" in " ".join(result.output.split())


@pytest.mark.parametrize("command", ["run", "status", "validate", "abort", "promote", "pause",
                                     "resume"])
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "--kubeconfig" in result.output


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.startswith("shifter ")


@pytest.mark.parametrize("args,expected", [
    (["run", "shop", "--steps", "50,10"], "steps: expected strictly increasing"),
    (["run", "shop", "--bake", "later"], "bake: expected a duration"),
    (["run", "Shop"], "release: expected a DNS-1123 label"),
    (["run", "shop", "--max-error-rate", "2"], "analysis.max_error_rate"),
    (["run", "shop", "-f", "/nonexistent/shift.yaml"], "cannot read"),
    (["validate", "-f", "/nonexistent/shift.yaml"], "cannot read"),
])
def test_bad_input_exits_2_with_one_line_before_touching_a_cluster(args, expected, tmp_path,
                                                                  monkeypatch):
    # No cluster is reachable here: reaching it would be a different error.
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], result.output


def test_bad_output_format_is_a_usage_error():
    result = invoke("run", "shop", "--output", "yaml")
    assert result.exit_code == 2
    assert "expected text or json" in result.output


def test_json_output_errors_end_with_a_summary_event(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    result = invoke("run", "shop", "--steps", "10", "--output", "json")
    assert result.exit_code == 2
    last = [line for line in result.output.splitlines() if line.startswith("{")][-1]
    assert '"event": "summary"' in last and '"exit_code": 2' in last


def test_missing_kubeconfig_is_invalid_input(tmp_path):
    result = invoke("run", "shop", "--kubeconfig", str(tmp_path / "missing"))
    assert result.exit_code == 2
    assert "kubeconfig" in result.output


def test_unknown_router_is_a_config_error(tmp_path):
    cfg = tmp_path / "shift.yaml"
    cfg.write_text("release: shop\nrouter: {kind: traefik}\n")
    result = invoke("validate", "-f", str(cfg), "--offline")
    assert result.exit_code == 2
    assert "router" in result.output and "traefik" in result.output


def test_router_field_typo_is_a_config_error(tmp_path):
    cfg = tmp_path / "shift.yaml"
    cfg.write_text("release: shop\nrouter: {kind: nginx, ingres: shop}\n")
    result = invoke("validate", "-f", str(cfg), "--offline")
    assert result.exit_code == 2 and "ingres" in result.output


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_are_valid(path, monkeypatch):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.example/x")
    result = invoke("validate", "-f", str(path), "--offline")
    assert result.exit_code == 0, result.output
