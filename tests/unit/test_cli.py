"""The CLI contract through Typer's CliRunner: help, exit codes, one-line errors."""

import json
import re
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


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


def test_root_help_lists_commands_and_exit_codes():
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("run", "status", "validate", "abort", "approve", "promote", "pause",
                 "resume", "undo", "cleanup", "completion", "config-schema"):
        assert name in result.output
    assert "6 another run holds" in " ".join(result.output.split())


KUBE_COMMANDS = ["run", "status", "validate", "abort", "approve", "promote", "pause",
                 "resume", "undo", "cleanup"]


@pytest.mark.parametrize("name", KUBE_COMMANDS)
def test_every_command_has_help(name):
    result = invoke(name, "--help")
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
    result = invoke("run", "shop", "--output", "xml")
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())
    assert "'xml' is not one of 'text', 'json', 'yaml'" in text


def test_json_output_errors_end_with_a_summary_event(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    result = invoke("run", "shop", "--steps", "10", "--output", "json")
    assert result.exit_code == 2
    last = [line for line in result.output.splitlines() if line.startswith("{")][-1]
    event = json.loads(last)
    assert event["event"] == "summary" and event["exit_code"] == 2
    assert event["schema"] == 1


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


# -- Typer done properly: choices in help, no <bool> metavars, durations, completion ------

def _help(*args: str) -> str:
    result = invoke(*args, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("args", [[], *[[c] for c in KUBE_COMMANDS], ["completion"]])
def test_no_help_shows_a_bool_metavar(args):
    assert "<bool>" not in _help(*args)


@pytest.mark.parametrize("option,choices", [
    ("--router", "gateway|istio|nginx|service"),
    ("--preset", "app|envoy|haproxy|istio|nginx"),
    ("--output", "text|json|yaml"),
    ("--on-interrupt", "revert|hold"),
    ("--log-level", "debug|info|warning|error"),
    ("--log-format", "console|json"),
])
def test_closed_sets_list_their_choices_in_help(option, choices):
    line = next(x for x in _help("run").splitlines() if option in x)
    assert choices in line


def test_enums_match_the_registries():
    from shifter.analysis.presets import PRESETS
    from shifter.cli.options import Preset, RouterKind
    from shifter.routers.registry import router_names

    assert sorted(r.value for r in RouterKind) == router_names()
    assert sorted(p.value for p in Preset) == sorted(PRESETS)


@pytest.mark.parametrize("args", [["run", "shop", "--router", "traefik"],
                                  ["run", "shop", "--preset", "datadog"],
                                  ["run", "shop", "--on-interrupt", "ignore"],
                                  ["status", "shop", "--log-level", "loud"],
                                  ["status", "shop", "--wait", "--timeout", "soon"],
                                  ["pause", "shop", "--wait", "10 seconds"]])
def test_a_wrong_choice_or_duration_is_one_usage_error(args):
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Invalid value" in result.output


def test_completion_prints_a_script_for_each_shell():
    for shell, marker in (("bash", "complete "), ("zsh", "compdef"), ("fish", "complete ")):
        result = invoke("completion", shell)
        assert result.exit_code == 0 and marker in result.output, result.output
        assert "_SHIFTER_COMPLETE" in result.output


def test_install_completion_is_offered():
    assert "--install-completion" in _help()


def test_completion_offers_the_router_choices(monkeypatch):
    import os

    result = runner.invoke(app, [], prog_name="shifter", env={
        "_SHIFTER_COMPLETE": "complete_bash", "COMP_WORDS": "shifter run shop --router ",
        "COMP_CWORD": "4", **{k: v for k, v in os.environ.items() if k == "PATH"}})
    assert {"gateway", "istio", "nginx", "service"} <= set(result.output.split()), result.output


def test_help_texts_say_what_the_commands_do():
    status = " ".join(_help("status").split())
    assert "exits with the rollout's own exit code" in status
    assert "1 when none is" in status
    pause = " ".join(_help("pause").split())
    assert "5 otherwise" in pause
    run = " ".join(_help("run").split())
    assert "dryRun=All" in run and "SHIFTER_PROMETHEUS_URL" in run


def test_root_epilog_is_the_exit_code_table_of_the_readme():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = re.findall(r"^\| `(\d)` \|", readme, flags=re.M)
    assert table == ["0", "1", "2", "3", "4", "5", "6"]


# -- validate: every error at once, with suggestions --------------------------------------

def test_validate_lists_every_error_with_did_you_mean(tmp_path, monkeypatch):
    monkeypatch.delenv("MISSING_HOOK", raising=False)
    cfg = tmp_path / "shift.yaml"
    cfg.write_text("release: shop\nbakee: 10s\nsteps: [50, 10]\n"
                   "analysis: {max_eror_rate: 0.1, preset: app}\n"
                   "router: {kind: nginx, ingres: shop}\n")
    result = invoke("validate", "-f", str(cfg), "--offline")
    assert result.exit_code == 2
    errors = [x for x in result.output.splitlines() if x.startswith("error:")]
    text = "\n".join(errors)
    assert len(errors) == 4, result.output
    assert "bakee: unknown field; did you mean 'bake'?" in text
    assert "analysis.max_eror_rate: unknown field; did you mean 'max_error_rate'?" in text
    assert "router.ingres: unknown field; did you mean 'ingress'?" in text
    assert "steps: expected strictly increasing" in text


@pytest.mark.parametrize("body,expected", [
    ("notify: [{url_env: MISSING_HOOK}]\n", "notify[0].url_env: environment variable "
                                            "MISSING_HOOK is not set"),
    ("notify: [{url: 'https://h.example/x', events: [stepp]}]\n", "unknown event 'stepp'"),
    ("smoke: [{url: 'http://{servic}/healthz'}]\n", "unknown placeholder {servic}"),
    ("bake: 60s\nstep_deadline: 10s\n", "step_deadline: expected at least the bake time"),
    ("analysis: {prometheus_auth: {bearer_token_env: MISSING_HOOK}}\n",
     "analysis.prometheus_auth.bearer_token_env: environment variable MISSING_HOOK is not set"),
    ("analysis: {prometheus_auth: {bearer_token_file: /nonexistent/token}}\n",
     "analysis.prometheus_auth.bearer_token_file: cannot read /nonexistent/token"),
    ("analysis: {checks: [{name: x, query: 'up{{{nope}}}', max: 1}]}\n", "nope"),
])
def test_validate_rejects_what_run_would_reject(body, expected, tmp_path, monkeypatch):
    monkeypatch.delenv("MISSING_HOOK", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    cfg = tmp_path / "shift.yaml"
    cfg.write_text("release: shop\n" + body)
    for args in (["validate", "-f", str(cfg), "--offline"], ["run", "shop", "-f", str(cfg)],
                 ["run", "shop", "-f", str(cfg), "--dry-run"]):
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.output, (args, result.output)
        assert "KUBERNETES_SERVICE_HOST" not in result.output  # refused before the cluster


def test_prometheus_precedence_is_flag_then_environment_then_file(tmp_path):
    from shifter.cli.run import overrides  # noqa: F401  (the run flags' dotted keys)
    from shifter.precheck import load_checked

    cfg = tmp_path / "shift.yaml"
    cfg.write_text("release: shop\nanalysis: {prometheus: 'http://file:9090'}\n")
    assert load_checked(cfg, {}).analysis.prometheus == "http://file:9090"
    result = invoke("validate", "-f", str(cfg), "--offline", "--prometheus", "nope")
    assert result.exit_code == 2 and "analysis.prometheus" in result.output
    result = invoke("validate", "-f", str(cfg), "--offline",
                    env={"SHIFTER_PROMETHEUS_URL": "bad url"})
    assert result.exit_code == 2 and "analysis.prometheus" in result.output
    result = invoke("validate", "-f", str(cfg), "--offline", "--prometheus", "http://flag:1",
                    env={"SHIFTER_PROMETHEUS_URL": "bad url"})
    assert result.exit_code == 0, result.output


# -- logs: their own key, and a format flag -----------------------------------------------

def test_json_logs_use_msg_not_event(capsys):
    import structlog

    from shifter.cli.common import setup_logging

    setup_logging("info", "json")
    structlog.get_logger("t").info("hello", weight=10)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["msg"] == "hello" and "event" not in line and line["level"] == "info"


def test_console_logs_are_not_json(capsys):
    import structlog

    from shifter.cli.common import setup_logging

    setup_logging("info", "console")
    structlog.get_logger("t").info("hello", weight=10)
    err = capsys.readouterr().err
    assert "hello" in err and "weight=10" in err and not err.lstrip().startswith("{")


def test_validate_offline_json_ends_with_a_summary_event(tmp_path):
    cfg = tmp_path / "shift.yaml"
    cfg.write_text("release: shop\n")
    result = invoke("validate", "-f", str(cfg), "--offline", "-o", "json")
    assert result.exit_code == 0, result.output
    event = json.loads(result.stdout.strip().splitlines()[-1])
    assert (event["event"], event["outcome"], event["schema"]) == ("summary", "valid", 1)


def test_step_deadline_help_states_the_real_default():
    from shifter.plan import make_plan

    plan = make_plan([10, 100], bake=2.0, interval=10.0)
    assert plan.steps[0].deadline == 2.0 + 3 * 10.0  # not 3x bake: at least bake + 3 intervals
    assert "at least bake + 3 intervals" in " ".join(_help("run").split())


@pytest.mark.parametrize("args", [[], *[[c] for c in KUBE_COMMANDS], ["completion"],
                                  ["config-schema"]])
def test_help_has_no_source_markup(args):
    assert "``" not in _help(*args)


@pytest.mark.parametrize("args,expected", [
    (["run", "shop", "--router", "traefik"],
     "error: Invalid value for '--router': 'traefik' is not one of 'gateway', 'istio', "
     "'nginx', 'service'. (see 'shifter run --help')"),
    (["status"], "error: Missing argument 'RELEASE'. (see 'shifter status --help')"),
    (["nosuch"], "error: No such command 'nosuch'. (see 'shifter --help')"),
])
def test_usage_errors_are_one_error_line_like_every_other_error(args, expected):
    result = runner.invoke(app, args, prog_name="shifter")
    assert result.exit_code == 2
    assert result.stderr.strip() == expected


def test_an_unexpected_error_is_one_line_exit_1_without_secrets(monkeypatch, capsys):
    """A bug in a command is not a traceback that may quote a secret: one line, exit 1."""
    import pytest as _pytest

    from shifter import redact
    from shifter.cli import app as app_module

    redact.register("planted-secret-value")

    def boom(**_: object) -> None:
        raise RuntimeError("failed while holding planted-secret-value")

    monkeypatch.setattr(app_module, "app", boom)
    monkeypatch.delenv("SHIFTER_TRACEBACK", raising=False)
    with _pytest.raises(SystemExit) as exc:
        app_module.main()
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("internal error: RuntimeError")
    assert "planted-secret-value" not in err


# -- --request-timeout: kubectl's global flag -----------------------------------------------

@pytest.mark.parametrize("name", KUBE_COMMANDS)
def test_every_command_that_talks_to_the_api_takes_request_timeout(name):
    result = invoke(name, "--help")
    assert result.exit_code == 0 and "--request-timeout" in result.output


@pytest.mark.parametrize("value,expected", [
    ("0", "expected a duration above 0 like 5s or 1m, got '0'"),
    ("0s", "expected a duration above 0 like 5s or 1m, got '0s'"),
    ("5", "expected a duration with a unit, like 5ms or 5s, got the bare number 5"),
    ("soon", "expected a duration like 500ms, 10s, 1m30s or 2h, got 'soon'"),
    ("-1s", "expected a duration that is not negative"),
])
@pytest.mark.parametrize("before", [True, False])
def test_a_bad_request_timeout_is_one_line_naming_the_flag_exit_2(value, expected, before):
    args = (["--request-timeout", value, "status", "shop"] if before
            else ["status", "shop", "--request-timeout", value])
    result = runner.invoke(app, args, prog_name="shifter")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: Invalid value for '--request-timeout': "), lines
    assert expected in lines[0]


class _Stop(Exception):
    pass


@pytest.fixture
def load_client_calls(monkeypatch):
    """What the command asked the Kubernetes client for; it stops there (exit 2)."""
    from shifter.errors import InvalidInput
    from shifter.kube import client as kube_client

    calls: list[dict] = []

    def fake(**kwargs):
        calls.append(kwargs)
        raise InvalidInput("stop here")

    monkeypatch.setattr(kube_client, "load_client", fake)
    return calls


@pytest.mark.parametrize("args,seconds", [
    (["status", "shop"], 10.0),  # kubectl's default is none; shifter's is 10 s
    (["--request-timeout", "2s", "status", "shop"], 2.0),
    (["status", "shop", "--request-timeout", "1m30s"], 90.0),
    (["--request-timeout", "2s", "status", "shop", "--request-timeout", "500ms"], 0.5),
    (["-n", "demo", "--request-timeout", "3s", "abort", "shop"], 3.0),
    (["pause", "shop", "--request-timeout", "3s"], 3.0),
    (["undo", "shop", "--request-timeout", "4s"], 4.0),
    (["--request-timeout", "4s", "cleanup", "shop"], 4.0),
    (["run", "shop", "--prometheus", "http://prom:9090", "--request-timeout", "7s"], 7.0),
])
def test_the_request_timeout_reaches_the_client_before_or_after_the_command(
        args, seconds, load_client_calls):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert [c["request_timeout"] for c in load_client_calls] == [seconds]


def test_the_request_timeout_help_states_the_default_and_what_is_built_on_it():
    text = " ".join(invoke("run", "--help").output.split()).replace("│ ", "")
    assert "default: (10s)" in text
    assert "3x" in text and "6x" in text


def test_connect_gives_the_client_the_request_timeout(tmp_path):
    """The flag's value is the client's per-request timeout (each request's urllib3
    timeout, shifter.kube.client.KubeClient.request)."""
    import yaml

    from shifter.cli.common import ROOT, connect

    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "lab", "user": {"token": "t"}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}]}))
    ROOT.clear()
    try:
        assert connect(str(path), None).request_timeout == 10.0
        assert connect(str(path), None, 2.5).request_timeout == 2.5
        ROOT["request_timeout"] = 4.0  # given before the command
        assert connect(str(path), None).request_timeout == 4.0
        assert connect(str(path), None, 0.5).request_timeout == 0.5  # after it wins
    finally:
        ROOT.clear()
