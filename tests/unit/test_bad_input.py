"""Malformed input fails cleanly: exit 2, one line naming the field, bounded memory.

Each case is a file a person (or an attacker with write access to a ConfigMap) could give
shifter: run through the real CLI (Typer's CliRunner, in-process) with ``run``, which reads
its config before it contacts anything, and with ``validate --offline``; kubeconfigs through
``status``. Memory is measured with tracemalloc (a deterministic count of allocations, not a
timing); times are measured in ``bench/bench_bad_input.py``.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from shifter import yamlload
from shifter.cli.app import app
from shifter.config import build_config, load_config
from shifter.errors import ConfigError

runner = CliRunner()
PEAK_LIMIT = 20 * 1024 * 1024  # bytes Python may allocate while refusing one input


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    structlog.reset_defaults()


def billion_laughs(key: str = "steps") -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    return "release: shop\n" + "\n".join(lines) + f"\n{key}: *j\n"  # 9**10 strings


# (file content, the field the one error line must start with, words it must contain)
CONFIGS: dict[str, tuple[str | bytes, str, str]] = {
    "billion laughs under steps": (billion_laughs(), "", "expands to more than"),
    "binary file": (bytes(range(256)) * 8, "file", "not UTF-8 text"),
    "NUL bytes": ("release: shop\x00\n", "file", "NUL"),
    "deeply nested": ("release: shop\nrouter: " + "[" * 2000 + "]" * 2000 + "\n",
                      "router", "nests deeper than"),
    "deep mapping": ("release: shop\nanalysis: " + "{a: " * 200 + "1" + "}" * 200 + "\n",
                     "analysis", "nests deeper than"),
    "bake: [1]": ("release: shop\nbake: [1]\n", "bake", "expected a duration"),
    "bake: .inf": ("release: shop\nbake: .inf\n", "bake", "expected a duration"),
    "interval: .nan": ("release: shop\ninterval: .nan\n", "interval", "expected a duration"),
    "max_latency_p99: 500": ("release: shop\nanalysis: {max_latency_p99: 500}\n",
                             "analysis.max_latency_p99", "500ms"),
    "bake: 60": ("release: shop\nbake: 60\n", "bake", "60s"),
    "bare number string": ("release: shop\nbake: '60'\n", "bake", "60s"),
    "negative duration": ("release: shop\nbake: -5s\n", "bake", "not negative"),
    "huge duration": ("release: shop\nbake: 99999999999h\n", "bake", "292 years"),
    "alpha: .nan": ("release: shop\nanalysis: {alpha: .nan}\n", "analysis.alpha", "finite"),
    "check max: .inf": ("release: shop\nanalysis: {checks: [{name: q, query: x, max: .inf}]}\n",
                        "analysis.checks[0].max", "finite"),
    "duplicate key": ("release: shop\nbake: 1m\nbake: 5m\n", "bake", "duplicate key"),
    "nested duplicate": ("release: shop\nanalysis:\n  preset: app\n  preset: nginx\n",
                         "analysis.preset", "duplicate key"),
    "two documents": ("release: shop\n---\nrelease: other\n", "file", "more than one"),
    "top-level list": ("- release: shop\n", "file", "expected a YAML mapping"),
    "invalid YAML": ("release: [shop\n", "file", "not valid YAML"),
    "unknown tag": ("release: !!python/object:os.system shop\n", "file", "not valid YAML"),
    "steps as mapping": ("release: shop\nsteps: {a: 1}\n", "steps", "expected a list"),
    "steps of strings": ("release: shop\nsteps: [ten, 100]\n", "steps", ""),
    "smoke url placeholder": ("release: shop\nsmoke: [{url: 'http://{nope}/'}]\n",
                              "smoke[0].url", "unknown placeholder"),
    "smoke method": ("release: shop\nsmoke: [{url: 'http://x/', method: FETCH}]\n",
                     "smoke[0].method", "expected one of"),
    "smoke timeout 0": ("release: shop\nsmoke: [{url: 'http://x/', timeout: 0}]\n",
                        "smoke[0].timeout", "above 0"),
    "notify event": ("release: shop\nnotify: [{url: 'https://h.example/x', events: [stpe]}]\n",
                     "notify[0].events", "unknown event 'stpe'"),
    "notify scheme": ("release: shop\nnotify: [{url: 'ftp://h.example/x'}]\n",
                      "notify[0].url", "http:// or https://"),
    "notify unset env": ("release: shop\nnotify: [{url_env: SHIFTER_TEST_UNSET_HOOK}]\n",
                         "notify[0].url_env", "SHIFTER_TEST_UNSET_HOOK is not set"),
    "interval: 0s": ("release: shop\ninterval: 0s\n", "interval", "above 0"),
    "deadline under bake": ("release: shop\nbake: 1m\nstep_deadline: 30s\n", "step_deadline",
                            "at least the bake time"),
    "namespace as list": ("release: shop\nnamespace: [demo]\n", "namespace", ""),
}


def _write(tmp_path: Path, content: str | bytes, name: str = "shift.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    return lines[0].removeprefix("error: ")


@pytest.mark.parametrize("case", list(CONFIGS))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_malformed_config_exits_2_with_one_line_naming_the_field(
        case: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content, field, words = CONFIGS[case]
    monkeypatch.delenv("SHIFTER_TEST_UNSET_HOOK", raising=False)
    # no cluster is reachable: a config error must be found before any connection
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    path = _write(tmp_path, content)
    args = (["run", "shop", "-f", str(path)] if command == "run"
            else ["validate", "-f", str(path), "--offline"])
    tracemalloc.start()
    try:
        result = runner.invoke(app, args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 2, (result.output, result.exception)
    line = _one_error_line(result.output)
    assert line.startswith(f"{field}: " if field else ""), line
    assert words in line, line
    assert "Traceback" not in result.output
    assert peak < PEAK_LIMIT, f"{case}: {peak / 1e6:.1f} MB allocated"


def test_the_billion_laughs_really_expands() -> None:
    """Guards the case above: without the limit the document is 10^9 nodes."""
    with pytest.raises(ConfigError, match="expands to more than"):
        yamlload.loads(billion_laughs())
    small = yamlload.loads("a: &a [1, 2]\nb: *a\nc: {<<: {x: 1}, y: 2}\n")
    assert small == {"a": [1, 2], "b": [1, 2], "c": {"x": 1, "y": 2}}


def test_limits_are_on_expanded_nodes_not_on_aliases() -> None:
    """Aliases are fine while the expansion stays small; the limit counts copies."""
    text = "base: &b {bake: 10s}\n" + "".join(f"s{i}: *b\n" for i in range(100))
    assert len(yamlload.loads(text)) == 101
    with pytest.raises(ConfigError, match="expands"):
        yamlload.check_events(text, name="x", max_nodes=150)


def test_a_merge_key_is_not_a_duplicate() -> None:
    data = yamlload.loads("d: &d {a: 1}\ne: {<<: *d, <<: {b: 2}, c: 3}\n")
    assert data["e"] == {"a": 1, "b": 2, "c": 3}


def test_oversized_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "release: shop\n" + "#" * (yamlload.MAX_BYTES + 1) + "\n")
    with pytest.raises(ConfigError, match="^file: .* is larger than 1024 KiB$"):
        load_config(path, {})


KUBECONFIGS: dict[str, tuple[str | bytes, str]] = {
    "invalid YAML": ("apiVersion: v1\nclusters: [\n", "not valid YAML"),
    "a YAML list": ("- apiVersion: v1\n- kind: Config\n", "expected a YAML mapping"),
    "binary": (bytes(range(256)) * 4, "not UTF-8 text"),
    "billion laughs": (billion_laughs("users"), "expands to more than"),
    "clusters not a list": ("apiVersion: v1\nclusters: 5\n", "'clusters' to be a list"),
    "context not a mapping": ("contexts: [{name: a, context: 5}]\n", "contexts[0]"),
    "current-context a list": ("current-context: [a]\n", "'current-context' to be a string"),
}


@pytest.mark.parametrize("case", list(KUBECONFIGS))
def test_malformed_kubeconfig_exits_2_with_one_line(case: str, tmp_path: Path) -> None:
    content, words = KUBECONFIGS[case]
    path = _write(tmp_path, content, "kubeconfig")
    result = runner.invoke(app, ["status", "shop", "--kubeconfig", str(path)])
    assert result.exit_code == 2, (result.output, result.exception)
    line = _one_error_line(result.output)
    assert line.startswith("kubeconfig: ") and words in line, line


@pytest.mark.parametrize(("value", "seconds"), [
    ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0), ("1.5s", 1.5), ("0", 0.0), (0, 0.0),
    ("250us", 0.00025), ("1h2m3s4ms", 3723.004),
])
def test_durations_are_go_style(value: str | int, seconds: float) -> None:
    cfg = build_config({"release": "shop", "bake": value})
    assert cfg.bake == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["500", 500, 1.5, "1d", "10S", "1m30", "ms", "", " ", True,
                                   "1e3s", "inf", "nan"])
def test_other_durations_are_refused(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^step_deadline: expected a duration"):
        build_config({"release": "shop", "step_deadline": value})
