"""Config: file + flags, validation errors name the field and what was expected."""

import pytest

from shifter.config import load_config, merge
from shifter.errors import ConfigError


def write(tmp_path, text):
    p = tmp_path / "shift.yaml"
    p.write_text(text)
    return p


def test_defaults():
    cfg = load_config(None, {"release": "shop"})
    assert cfg.steps == (10, 50, 100) and cfg.bake == 60 and cfg.interval == 10
    assert cfg.router_kind == "nginx" and cfg.on_interrupt == "revert"
    assert cfg.service("blue") == "shop-blue" and cfg.deployment("green") == "shop-green"
    assert cfg.analysis.max_error_rate == 0.01 and cfg.analysis.max_latency_p99 == 0.5


def test_file_then_flags_win(tmp_path):
    p = write(tmp_path, """
release: shop
namespace: demo
router: {kind: gateway, route: web}
steps: [5, 100]
bake: 2m
analysis: {prometheus: "http://prom:9090/", preset: envoy, max_latency_p99: 300ms}
""")
    cfg = load_config(p, {"release": "shop", "bake": "30s", "analysis.preset": "app",
                          "steps": None})
    assert cfg.bake == 30 and cfg.steps == (5, 100)
    assert cfg.analysis.preset == "app" and cfg.analysis.max_latency_p99 == 0.3
    assert cfg.analysis.prometheus == "http://prom:9090"
    assert cfg.router == {"kind": "gateway", "route": "web"}


def test_router_flag_drops_the_other_routers_fields():
    merged = merge({"router": {"kind": "nginx", "ingress": "x"}}, {"router.kind": "gateway"})
    assert merged["router"] == {"kind": "gateway"}
    merged = merge({"router": {"kind": "nginx", "ingress": "x"}}, {"router.kind": "nginx"})
    assert merged["router"] == {"kind": "nginx", "ingress": "x"}


@pytest.mark.parametrize("overrides,expected", [
    ({"release": "shop", "steps": "50,10"}, "steps: expected strictly increasing"),
    ({"release": "shop", "steps": "10,50"}, "steps: expected the last step to be 100"),
    ({"release": "Shop_1"}, "release: expected a DNS-1123 label"),
    ({"release": "shop", "bake": "soon"}, "bake: expected a duration like 500ms"),
    ({"release": "shop", "analysis.max_error_rate": 1.5}, "analysis.max_error_rate:"),
    ({"release": "shop", "analysis.prometheus": "prom:9090"},
     "analysis.prometheus: expected an http(s) URL"),
    ({"release": "shop", "on_interrupt": "explode"}, "on_interrupt:"),
    ({"release": "shop", "typo": 1}, "typo: unknown field"),
    ({}, "release: required field is missing"),
])
def test_errors_are_one_line_naming_the_field(overrides, expected):
    with pytest.raises(ConfigError) as err:
        load_config(None, overrides)
    text = str(err.value)
    assert expected in text and "\n" not in text


def test_nested_unknown_field_path(tmp_path):
    p = write(tmp_path, "release: shop\nanalysis:\n  max_eror_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"^analysis\.max_eror_rate: unknown field"):
        load_config(p, {})


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML at line 2"):
        load_config(write(tmp_path, "release: shop\n  bad: [\n"), {})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml", {})
    with pytest.raises(ConfigError, match="expected a YAML mapping"):
        load_config(write(tmp_path, "- a\n- b\n"), {})


def test_notify_needs_exactly_one_url(tmp_path, monkeypatch):
    p = write(tmp_path, "release: shop\nnotify:\n  - {format: slack}\n")
    with pytest.raises(ConfigError, match=r"notify\[0\]: expected exactly one of url or url_env"):
        load_config(p, {})
    p = write(tmp_path, "release: shop\nnotify:\n  - {url_env: HOOK, format: slack}\n")
    monkeypatch.delenv("HOOK", raising=False)
    # found when the config is loaded, before anything is written
    with pytest.raises(ConfigError, match=r"notify\[0\]\.url_env: environment variable HOOK "
                                          r"is not set"):
        load_config(p, {})
    monkeypatch.setenv("HOOK", "https://hooks.example/secret")
    cfg = load_config(p, {})
    assert cfg.notify[0].resolved_url() == "https://hooks.example/secret"


def test_router_as_plain_string_and_custom_checks(tmp_path):
    p = write(tmp_path, """
release: shop
router: istio
analysis:
  checks:
    - {name: queue-depth, query: 'max by (service) (queue{service=~"{services}"})', max: 10}
""")
    cfg = load_config(p, {})
    assert cfg.router == {"kind": "istio"}
    assert cfg.analysis.checks[0].kind == "threshold"


@pytest.mark.parametrize("text,secret,field", [
    ("analysis: {prometheus: 'htp://shifter:pr0m-pa55@prom:9090'}", "pr0m-pa55",
     "analysis.prometheus"),
    ("notify: [{url: 'ftp://hooks.example/services/T0/B0/xoxTOKEN42'}]", "xoxTOKEN42",
     "notify[0].url"),
    ("notify: [{url: 'https://hooks.example/services/xoxTOKEN42', events: [nope]}]",
     "xoxTOKEN42", "notify[0].events"),
    ("smoke: [{url: 'gopher://u:sm0ke-pw@x/?token=qtoken99'}]", "sm0ke-pw", "smoke[0].url"),
    ("smoke: [{url: 'http://x/?token=qtoken99', retries: lots}]", "qtoken99", "smoke[0].retries"),
    ("analysis: {prometheus: ['http://u:pr0m-pa55@p']}", "pr0m-pa55", "analysis.prometheus"),
])
def test_errors_never_echo_a_secret(tmp_path, text, secret, field):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"release: shop\n{text}\n"), {})
    assert str(err.value).startswith(f"{field}: "), str(err.value)
    assert secret not in str(err.value), str(err.value)


def test_the_config_registers_its_secrets(tmp_path, monkeypatch):
    from shifter import redact

    redact.forget_all()
    monkeypatch.setenv("HOOK", "https://hooks.example/services/envTOKEN77")
    load_config(write(tmp_path, """release: shop
analysis: {prometheus: 'http://shifter:pr0m-pa55@prom:9090'}
smoke: [{url: 'http://{service}/healthz', headers: {Authorization: 'Bearer hdrTOKEN'}}]
notify: [{url_env: HOOK}]
"""), {})
    try:
        text = redact.scrub_text("pr0m-pa55 hdrTOKEN /services/envTOKEN77")
    finally:
        redact.forget_all()
    assert text == "*** *** ***"
