"""Output for people and for CI."""

import io
import json

from shifter.report import JsonReporter, TextReporter, make_reporter, markdown_summary

VERDICT = {"step": 0, "weight": 10, "elapsed": 3.0, "window": 3.0, "verdict": "fail",
           "reason": "error rate 20.0% (5/25) > 1.0% limit",
           "checks": [{"check": "error-rate", "verdict": "fail",
                       "reason": "error rate 20.0% (5/25) > 1.0% limit",
                       "query": "sum by (service) (increase(x[3s]))",
                       "values": {"requests": 25, "errors": 5}}]}


def test_json_is_one_object_per_line():
    out = io.StringIO()
    r = JsonReporter(out)
    r.emit("step", step=0, weight=10)
    r.emit("summary", outcome="promoted", exit_code=0, reason="ok")
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["step", "summary"]
    assert all("time" in json.loads(line) for line in lines)


def test_text_shows_the_failing_query_and_its_values():
    out = io.StringIO()
    r = TextReporter(out)
    r.emit("verdict", **VERDICT)
    r.emit("verdict", **VERDICT)
    text = out.getvalue()
    assert "step 1 at 10% after 3s: fail" in text
    assert text.count("query: sum by (service)") == 2  # failures always show their query
    assert "\033[" not in text  # no colour codes when not a terminal


def test_text_shows_a_passing_query_once():
    out = io.StringIO()
    r = TextReporter(out)
    passing = {**VERDICT, "verdict": "pass",
               "checks": [{**VERDICT["checks"][0], "verdict": "pass"}]}
    r.emit("verdict", **passing)
    r.emit("verdict", **passing)
    assert out.getvalue().count("query:") == 1


def test_github_step_summary_is_appended(tmp_path, monkeypatch):
    path = tmp_path / "summary.md"
    path.write_text("# earlier\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    rec = make_reporter("json", io.StringIO())
    rec.emit("plan", release="shop", namespace="demo")
    rec.emit("verdict", **VERDICT)
    rec.emit("summary", outcome="rolled_back", exit_code=3, reason="error rate 20.0%")
    rec.close()
    text = path.read_text()
    assert text.startswith("# earlier\n")
    assert "### shifter: demo/shop rolled_back" in text
    assert "| 1 | 10% | fail | error-rate: error rate 20.0% (5/25) > 1.0% limit |" in text


def test_markdown_summary_of_an_unfinished_rollout():
    text = markdown_summary([("plan", {"release": "shop", "namespace": "demo"})])
    assert "unfinished" in text
