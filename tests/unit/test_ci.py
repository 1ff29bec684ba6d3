"""GitHub Actions: step outputs, ::error:: annotations and log groups from the events."""

import io

from shifter.ci import GitHub, escape_data, output_file_text, outputs
from shifter.report import make_reporter

SERVICES = {"blue": "shop-blue", "green": "shop-green"}


def parse_output_file(text: str) -> dict[str, str]:
    """Read GITHUB_OUTPUT as the runner does (name<<DELIMITER ... DELIMITER)."""
    out, lines = {}, iter(text.splitlines())
    for line in lines:
        name, delimiter = line.split("<<", 1)
        value = []
        for body in lines:
            if body == delimiter:
                break
            value.append(body)
        out[name] = "\n".join(value)
    return out


def run_events(rec) -> None:
    rec.emit("plan", release="shop", namespace="demo", router="nginx", live="shop-blue",
             new="shop-green", steps=[10, 100], bake=1.0, interval=1.0)
    rec.emit("step", step=0, steps=2, weight=10, bake=1.0, new="green", live="blue")
    rec.emit("revert", live="blue", new="green", cause="slo", reason="error rate 20%")
    rec.emit("summary", outcome="rolled_back", exit_code=3,
             reason="error rate 20% > 1%\nsecond line", new="shop-green", live="shop-blue")


def test_github_output_gets_outcome_exit_code_colours_and_reason(tmp_path, monkeypatch):
    path = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(path))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    rec = make_reporter("json", io.StringIO(), services=SERVICES)
    run_events(rec)
    rec.close()
    assert parse_output_file(path.read_text()) == {
        "outcome": "rolled_back", "exit_code": "3", "live_colour": "blue",
        "new_colour": "green", "reason": "error rate 20% > 1%\nsecond line"}


def test_live_colour_after_a_promotion_is_the_new_one():
    assert outputs({"outcome": "promoted", "new": "green", "live": "blue"})["live_colour"] \
        == "green"


def test_a_value_cannot_forge_another_output():
    text = output_file_text({"reason": "x\nexit_code<<EOF\n0\nEOF"})
    assert parse_output_file(text) == {"reason": "x\nexit_code<<EOF\n0\nEOF"}


def test_in_actions_a_failure_is_annotated_and_steps_are_grouped(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    out = io.StringIO()
    rec = make_reporter("text", out, release="shop", namespace="demo", services=SERVICES)
    run_events(rec)
    rec.close()
    lines = out.getvalue().splitlines()
    commands = [x for x in lines if x.startswith("::")]
    assert commands[0] == "::group::step 1/2: 10% on green"
    assert commands[1] == "::endgroup::"
    assert commands[2].startswith("::error title=shifter%3A shop rolled_back::error rate "
                                  "20%25 > 1%25%0Asecond line (exit 3)")
    assert len(commands) == 3


def test_json_output_keeps_workflow_commands_off_stdout(monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    out = io.StringIO()
    rec = make_reporter("json", out, services=SERVICES)
    run_events(rec)
    rec.close()
    assert "::" not in out.getvalue()
    assert "::error" in capsys.readouterr().err


def test_outside_actions_nothing_is_added(monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    out = io.StringIO()
    gh = GitHub(out)
    gh.before("step", {"step": 1})
    gh.after("summary", {"exit_code": 3})
    gh.close()
    assert out.getvalue() == ""


def test_escape_data():
    assert escape_data("a%b\r\nc") == "a%25b%0D%0Ac"


def test_no_registered_secret_reaches_the_outputs_or_the_annotation(tmp_path, monkeypatch):
    from shifter import redact

    secret = "hunter2-planted-token"
    redact.register(secret)
    path = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(path))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    out = io.StringIO()
    rec = make_reporter("text", out, release="shop", namespace="demo", services=SERVICES)
    rec.emit("summary", outcome="failed", exit_code=5, reason=f"smoke http://u:{secret}@x/",
             new="shop-green", live="shop-blue")
    rec.close()
    assert secret not in path.read_text()
    assert secret not in out.getvalue()
    assert "::error" in out.getvalue()
