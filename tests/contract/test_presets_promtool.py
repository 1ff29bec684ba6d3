"""Every preset against a real Prometheus 2.42 over a TSDB built with promtool.

Series for each preset's metrics (both colours, known counts) are written as OpenMetrics,
turned into blocks by ``promtool tsdb create-blocks-from openmetrics``, and served by a
Prometheus child process; queries run at a fixed evaluation time so counts are exact.
Green is broken (20% errors, slow), blue healthy (and has no 5xx series at all, which the
``or ... * 0`` fallback must turn into 0 errors, not "no data").
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest

from shifter.analysis import Analyzer, CheckKind, CheckSpec, RenderContext, Verdict, build_checks
from shifter.analysis.prometheus import PrometheusSource, QueryError
from shifter.analysis.stats import histogram_quantile
from shifter.analysis.verdict import Cause
from shifter.errors import InvalidInput, PrometheusUnavailable

pytestmark = pytest.mark.contract

STEP, STEPS, WINDOW = 5, 60, 120.0  # one sample every 5 s for 300 s; judge the last 120 s
T0 = (int(time.time()) // 3600 - 3) * 3600  # recent enough for any retention
AT = float(T0 + STEP * STEPS)
BOUNDS = ("0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf")
FAST = {"0.05": 10}  # per step: 10 requests under 50 ms
# per step green: 2 fast, 1 at 0.1-0.25 s, 1 at 0.5-1 s, 1 at 1-2.5 s (40% slower than 0.5 s)
SLOW = {"0.05": 2, "0.25": 1, "1": 1, "2.5": 1}
# requests per step (total, errors): blue 10 / 0, green 5 / 1 -> over 120 s: 240/0 and 120/24
BLUE, GREEN = (10, 0), (5, 1)


def _buckets(per_step: dict[str, int]) -> list[tuple[str, int]]:
    out, running = [], 0
    for le in BOUNDS:
        running += per_step.get(le, 0)
        out.append((le, running))
    return out


def _ms(le: str) -> str:
    return le if le == "+Inf" else f"{float(le) * 1000:g}"


class Writer:
    """OpenMetrics text, one series' samples together, families never interleaved."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def series(self, name: str, labels: dict[str, str], per_step: float) -> None:
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for i in range(STEPS + 1):
            self.lines.append(f"{name}{{{text}}} {per_step * i:g} {T0 + STEP * i}")

    def points(self, name: str, labels: dict[str, str], values: dict[int, float]) -> None:
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for i, value in sorted(values.items()):
            self.lines.append(f"{name}{{{text}}} {value:g} {T0 + STEP * i}")

    def gauge(self, name: str, labels: dict[str, str], value: float) -> None:
        self.series(name, labels, 0)
        self.lines[-(STEPS + 1) :] = [
            line.rsplit(" ", 2)[0] + f" {value:g} " + line.rsplit(" ", 1)[1]
            for line in self.lines[-(STEPS + 1) :]
        ]

    def text(self) -> str:
        return "\n".join([*self.lines, "# EOF", ""])


def _openmetrics() -> str:
    w = Writer()
    colours = {"shop-blue": (BLUE, FAST), "shop-green": (GREEN, SLOW)}
    # app: blue has no 5xx series; namespaces good (both healthy) and outage (both 30%)
    for ns, which in (
        ("shop", colours),
        ("good", dict.fromkeys(colours, (BLUE, FAST))),
        ("outage", dict.fromkeys(colours, ((10, 3), FAST))),
    ):
        for svc, ((total, errors), _) in which.items():
            w.series(
                "http_requests_total",
                {"namespace": ns, "service": svc, "code": "200"},
                total - errors,
            )
            if errors:
                w.series(
                    "http_requests_total", {"namespace": ns, "service": svc, "code": "503"}, errors
                )
    # exact: counts since the window start (step 36) with a birth and a reset inside it
    w.series("http_requests_total", {"namespace": "exact", "service": "shop-blue",
                                     "code": "200"}, 10)
    w.points("http_requests_total", {"namespace": "exact", "service": "shop-green",
                                     "code": "200"}, {i: 5 * (i - 39) for i in range(40, 61)})
    w.points("http_requests_total", {"namespace": "exact", "service": "shop-green",
                                     "code": "503"},
             {i: (i if i < 50 else i - 50) for i in range(STEPS + 1)})
    for ns, which in (("shop", colours), ("good", dict.fromkeys(colours, (BLUE, FAST)))):
        for svc, (_, hist) in which.items():
            for le, n in _buckets(hist):
                w.series(
                    "http_request_duration_seconds_bucket",
                    {"namespace": ns, "service": svc, "le": le},
                    n,
                )
    # nginx: the canary Ingress carries its own ingress label
    for svc, ((total, errors), _) in colours.items():
        ing = "shop-canary" if svc == "shop-green" else "shop"
        base = {"namespace": "shop", "ingress": ing, "service": svc}
        w.series("nginx_ingress_controller_requests", {**base, "status": "200"}, total - errors)
        w.series("nginx_ingress_controller_requests", {**base, "status": "503"}, errors)
    for svc, (_, hist) in colours.items():
        ing = "shop-canary" if svc == "shop-green" else "shop"
        for le, n in _buckets(hist):
            w.series(
                "nginx_ingress_controller_request_duration_seconds_bucket",
                {"namespace": "shop", "ingress": ing, "service": svc, "le": le},
                n,
            )
    # istio: source reporter (used) and a destination reporter with other numbers (ignored)
    for reporter, scale in (("source", 1), ("destination", 3)):
        for svc, ((total, errors), _) in colours.items():
            base = {
                "reporter": reporter,
                "destination_service_namespace": "shop",
                "destination_service_name": svc,
            }
            w.series(
                "istio_requests_total", {**base, "response_code": "200"}, (total - errors) * scale
            )
            if errors:
                w.series("istio_requests_total", {**base, "response_code": "503"}, errors)
    for svc, (_, hist) in colours.items():
        for le, n in _buckets(hist):
            w.series(
                "istio_request_duration_milliseconds_bucket",
                {
                    "reporter": "source",
                    "destination_service_namespace": "shop",
                    "destination_service_name": svc,
                    "le": _ms(le),
                },
                n,
            )
    # envoy: per-backend clusters, blue is backendRef 0, green 1; plus the rule cluster
    cluster = {
        "shop-blue": "httproute/shop/shop/rule/0/backend/0",
        "shop-green": "httproute/shop/shop/rule/0/backend/1",
    }
    for svc, ((total, _errors), _) in colours.items():
        w.series("envoy_cluster_upstream_rq_total", {"envoy_cluster_name": cluster[svc]}, total)
    w.series(
        "envoy_cluster_upstream_rq_total", {"envoy_cluster_name": "httproute/shop/shop/rule/0"}, 99
    )
    for svc, ((total, errors), _) in colours.items():
        for cls, n in (("2", total - errors), ("5", errors)):
            w.series(
                "envoy_cluster_upstream_rq_xx",
                {"envoy_cluster_name": cluster[svc], "envoy_response_code_class": cls},
                n,
            )
    for svc, (_, hist) in colours.items():
        for le, n in _buckets(hist):
            w.series(
                "envoy_cluster_upstream_rq_time_bucket",
                {"envoy_cluster_name": cluster[svc], "le": _ms(le)},
                n,
            )
    # haproxy 2.6: every code class pre-created; a mean response time gauge
    for svc, ((total, errors), _) in colours.items():
        for code, n in (
            ("1xx", 0),
            ("2xx", total - errors),
            ("3xx", 0),
            ("4xx", 0),
            ("5xx", errors),
            ("other", 0),
        ):
            w.series(
                "haproxy_server_http_responses_total",
                {"proxy": "shop", "server": svc, "code": code},
                n,
            )
    for svc, mean in (("shop-blue", 0.02), ("shop-green", 0.4)):
        w.gauge(
            "haproxy_server_response_time_average_seconds", {"proxy": "shop", "server": svc}, mean
        )
    return w.text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def prom_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for tool in ("promtool", "prometheus"):
        assert shutil.which(tool), f"{tool} not installed (Debian package prometheus)"
    tmp = tmp_path_factory.mktemp("prom")
    (tmp / "data.om").write_text(_openmetrics())
    subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(tmp / "data.om"),
            str(tmp / "tsdb"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    (tmp / "prometheus.yml").write_text("global: {}\n")
    port = _free_port()
    log = (tmp / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=10y",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (tmp / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "Prometheus not ready in 15 s"
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def source(prom_url: str) -> Iterator[PrometheusSource]:
    with PrometheusSource(prom_url, timeout=5.0) as src:
        yield src


def _ctx(namespace: str = "shop") -> RenderContext:
    return RenderContext(
        namespace=namespace,
        release="shop",
        live_service="shop-blue",
        new_service="shop-green",
        ingress="shop",
        route="shop",
        extra={"live_backend_index": "0", "new_backend_index": "1", "rule_index": "0"},
    )


def _analyze(source: PrometheusSource, preset: str, ctx: RenderContext | None = None):  # type: ignore[no-untyped-def]
    ctx = ctx or _ctx()
    checks = build_checks(
        preset=preset, max_error_rate=0.01, max_latency=0.2, extra=tuple(ctx.extra)
    )
    return Analyzer(source, checks, ctx).evaluate(WINDOW, at=AT)


@pytest.mark.parametrize("preset", ["app", "nginx", "istio", "envoy", "haproxy"])
def test_preset_fails_the_broken_green(source: PrometheusSource, preset: str) -> None:
    err, lat = _analyze(source, preset)
    assert err.verdict is Verdict.FAIL, err.reason
    assert (err.values["requests"], err.values["errors"]) == (120, 24)
    assert (err.values["live_requests"], err.values["live_errors"]) == (240, 0)
    assert "error rate 20.0% (24/120 errors) > 1.0% limit" in err.reason
    assert lat.verdict is Verdict.FAIL, lat.reason
    if preset == "haproxy":
        assert lat.values["value"] == pytest.approx(0.4)
        assert lat.values["baseline_value"] == pytest.approx(0.02)
    else:
        assert lat.values["requests"] == 120 and lat.values["baseline_requests"] == 240
        assert lat.values["slow_bound"] == pytest.approx(0.25)
        assert lat.values["slow_requests"] == 48  # 2 of 5 per step above 0.25 s
        assert lat.values["quantile"] == pytest.approx(1 + 1.5 * (118.8 - 96) / 24)


def test_histogram_quantile_parity_with_prometheus(source: PrometheusSource) -> None:
    by_le = source.query(
        'sum by (le) (increase(http_request_duration_seconds_bucket{namespace="shop", '
        'service="shop-green"}[2m]))',
        at=AT,
    )
    buckets = [(float(labels["le"]), v) for labels, v in by_le]
    for q in (0.5, 0.9, 0.99, 0.3):
        theirs = source.query(
            f"histogram_quantile({q}, sum by (le) (increase(http_request_duration_seconds_bucket"
            f'{{namespace="shop", service="shop-green"}}[2m])))',
            at=AT,
        )
        assert histogram_quantile(q, buckets) == pytest.approx(theirs[0][1], rel=1e-12)


def test_healthy_green_passes_and_shared_outage_is_inconclusive(source: PrometheusSource) -> None:
    err, lat = _analyze(source, "app", _ctx("good"))
    assert (err.verdict, lat.verdict) == (Verdict.PASS, Verdict.PASS), (err.reason, lat.reason)
    assert err.values["errors"] == 0  # no 5xx series at all: the "* 0" fallback
    err, _ = _analyze(source, "app", _ctx("outage"))
    assert err.verdict is Verdict.INCONCLUSIVE and "breaches too" in err.reason
    assert err.cause is Cause.SHARED
    assert (err.values["errors"], err.values["live_errors"]) == (72, 72)


def test_exact_counts_with_a_series_born_and_a_counter_reset_inside_the_window(
        source: PrometheusSource) -> None:
    """Counter now minus at the window start (``@``): no extrapolation. A series born in
    the window counts all of its value; one that reset counts its value since the reset
    (an undercount of the requests before it, never an overcount)."""
    err, _ = _analyze(source, "app", _ctx("exact"))
    assert (err.values["live_requests"], err.values["live_errors"]) == (240, 0)
    # green: 200s born at step 40 (21 samples, 5 per step: 105); 503s reset at step 50
    assert (err.values["requests"], err.values["errors"]) == (105 + 10, 10)


def test_preflight_passes_and_reports_missing_live_data(source: PrometheusSource) -> None:
    ctx = _ctx()
    checks = build_checks(preset="nginx", max_error_rate=0.01, max_latency=0.2)
    assert len(Analyzer(source, checks, ctx).preflight(at=AT)) == 2
    missing = RenderContext("nowhere", "shop", "shop-blue", "shop-green")
    with pytest.raises(
        InvalidInput,
        match=r"checks\[error-rate\]: the query returns no data for "
        r"the live colour shop-blue: ",
    ):
        Analyzer(source, checks, missing).preflight(at=AT)


@pytest.mark.parametrize("preset", ["app", "nginx", "istio", "envoy", "haproxy"])
def test_preflight_measures_the_scrape_interval_of_the_queried_series(
        source: PrometheusSource, preset: str) -> None:
    """Samples every STEP (5) s: two ``timestamp()`` queries give exactly that, and a 1 s
    interval gets the timeline's warning."""
    from shifter.plan import make_plan

    ctx = _ctx()
    checks = build_checks(preset=preset, max_error_rate=0.01, max_latency=0.2,
                          extra=tuple(ctx.extra))
    a = Analyzer(source, checks, ctx)
    a.preflight(at=AT)
    assert a.scrape is not None
    assert a.scrape.interval == pytest.approx(STEP)
    lines = a.timeline(make_plan((10, 100), bake=3, interval=1))
    assert lines[-1].startswith("  WARNING: interval 1s is shorter than the scrape interval")
    assert not any("scrape" in x for x in a.timeline(make_plan((10, 100), bake=30,
                                                                interval=5)))


def test_query_that_does_not_parse(source: PrometheusSource) -> None:
    with pytest.raises(QueryError, match="parse error"):
        source.query("sum by (service (x)")
    bad = CheckSpec(
        "broken", CheckKind.THRESHOLD, 'sum(rate(x{service=~"{services}"}[{window}])', 1
    )
    with pytest.raises(
        InvalidInput,
        match=r"^analysis\.checks\[broken\]: Prometheus rejected the "
        r"query: .*parse error.*: sum\(rate\(x",
    ):
        Analyzer(source, [bad], _ctx()).preflight(at=AT)
    r = Analyzer(source, [bad], _ctx()).evaluate(30, at=AT)[0]
    assert r.verdict is Verdict.INCONCLUSIVE


def test_unreachable_prometheus() -> None:
    port = _free_port()
    with PrometheusSource(f"http://user:secret@127.0.0.1:{port}", timeout=2) as src:
        with pytest.raises(PrometheusUnavailable) as e:
            src.query("vector(1)")
        with pytest.raises(PrometheusUnavailable):
            src.check_online()
    assert f"http://127.0.0.1:{port}" in str(e.value) and "secret" not in str(e.value)


def test_check_online(source: PrometheusSource) -> None:
    source.check_online()  # raises when Prometheus does not answer
