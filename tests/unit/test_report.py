"""Output for people and for CI."""

import io
import json

import pytest

from shifter.report import JsonReporter, TextReporter, make_reporter, markdown_summary, normalize

# As the engine emits it (0-based step); TextReporter gets it normalized (1-based).
RAW_VERDICT = {"step": 0, "weight": 10, "elapsed": 3.0, "window": 3.0, "verdict": "fail",
           "reason": "error rate 20.0% (5/25) > 1.0% limit",
           "checks": [{"check": "error-rate", "verdict": "fail",
                       "reason": "error rate 20.0% (5/25) > 1.0% limit",
                       "query": "sum by (service) (increase(x[3s]))",
                       "values": {"requests": 25, "errors": 5}}]}
VERDICT = {**RAW_VERDICT, "step": 1}


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
    rec.emit("verdict", **RAW_VERDICT)
    rec.emit("summary", outcome="rolled_back", exit_code=3, reason="error rate 20.0%")
    rec.close()
    text = path.read_text()
    assert text.startswith("# earlier\n")
    assert "### shifter: demo/shop rolled_back" in text
    assert "| 1 | 10% | fail | error-rate: error rate 20.0% (5/25) > 1.0% limit |" in text


def test_markdown_summary_of_an_unfinished_rollout():
    text = markdown_summary([("plan", {"release": "shop", "namespace": "demo"})])
    assert "unfinished" in text


SERVICES = {"blue": "shop-blue", "green": "shop-green"}


def test_normalize_numbers_steps_from_one_and_versions_every_event():
    step = normalize("step", {"step": 0, "steps": 3, "weight": 10, "new": "green",
                              "live": "blue"}, release="shop", namespace="demo",
                     services=SERVICES, now=5.0)
    assert step == {"schema": 1, "event": "step", "time": 5.0, "release": "shop",
                    "namespace": "demo", "step": 1, "steps": 3, "weight": 10,
                    "new": "green", "live": "blue", "new_service": "shop-green",
                    "live_service": "shop-blue"}
    assert normalize("verdict", {"step": 2})["step"] == 3


@pytest.mark.parametrize("event", ["plan", "summary"])
def test_normalize_keeps_colours_and_services_apart(event):
    # plan and summary are emitted with Service names; they come out like every other event
    out = normalize(event, {"new": "shop-green", "live": "shop-blue"}, services=SERVICES)
    assert (out["new"], out["live"]) == ("green", "blue")
    assert (out["new_service"], out["live_service"]) == ("shop-green", "shop-blue")


def test_normalize_finds_the_colour_of_custom_service_names():
    out = normalize("plan", {"new": "web-v2", "live": "web"},
                    services={"blue": "web", "green": "web-v2"})
    assert (out["new"], out["live"]) == ("green", "blue")


def test_summary_history_steps_are_one_based():
    out = normalize("summary", {"history": [{"step": 0, "verdict": "pass"},
                                            {"step": 1, "verdict": "fail"}]})
    assert [h["step"] for h in out["history"]] == [1, 2]


def test_yaml_output_is_one_document_per_event():
    import yaml

    out = io.StringIO()
    rec = make_reporter("yaml", out, release="shop", namespace="demo", services=SERVICES,
                        github=False)
    rec.emit("step", step=0, steps=3, weight=10, new="green", live="blue", bake=3.0)
    rec.emit("summary", outcome="promoted", exit_code=0, reason="ok")
    docs = list(yaml.safe_load_all(out.getvalue()))
    assert [d["event"] for d in docs] == ["step", "summary"]
    assert docs[0]["step"] == 1 and docs[0]["schema"] == 1


def _schema_errors(event: dict) -> list[str]:
    import jsonschema

    from shifter.schemas import events_schema

    return [e.message for e in jsonschema.Draft202012Validator(events_schema()).iter_errors(event)]


def test_the_shipped_schema_accepts_what_the_reporter_writes_and_rejects_drift():
    out = io.StringIO()
    rec = make_reporter("json", out, release="shop", namespace="demo", services=SERVICES,
                        github=False)
    rec.emit("step", step=0, steps=3, weight=10, bake=2.0, new="green", live="blue")
    rec.emit("verdict", **RAW_VERDICT)
    rec.emit("summary", outcome="rolled_back", exit_code=3, reason="x", new="shop-green",
             live="shop-blue", history=[{"step": 0, "weight": 10, "verdict": "fail"}],
             revert_seconds=0.01)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [_schema_errors(e) for e in events] == [[], [], []]
    step = events[0]
    assert _schema_errors({**step, "step": 0})  # steps count from 1
    assert _schema_errors({**step, "new": "shop-green"})  # a Service where a colour goes
    assert _schema_errors({**step, "schema": 2})
    assert _schema_errors({**step, "extra": 1})  # every field is documented
    assert _schema_errors({**step, "event": "stepped"})
