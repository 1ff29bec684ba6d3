"""Presets: the error-rate and latency checks for common metric sources, and the builder.

Every preset's queries return both colours at once, labelled ``service`` with the colour's
Service name (``label_replace`` where the source uses another label). Error-rate queries
return two series per service, ``kind="total"`` and ``kind="errors"``; the errors side
falls back to ``total * 0`` so a colour that never answered a 5xx (its labelled series
does not exist yet) reads 0 errors, not "no data". See ``docs/analysis.md`` for what each
preset expects from the cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shifter.errors import InvalidInput

from .checks import CheckKind, CheckSpec
from .render import BUILTIN, check_template


@dataclass(frozen=True)
class Preset:
    """Query templates for one metric source."""

    name: str
    error_query: str
    latency_query: str
    latency_kind: CheckKind = CheckKind.LATENCY
    latency_scale: float = 1.0  # histogram bound unit in seconds (0.001 for milliseconds)
    latency_note: str = ""
    defaults: tuple[tuple[str, str], ...] = ()


def relabel(vector: str, source_label: str) -> str:
    """Copy ``source_label`` into ``service`` (no-op when the source already says service)."""
    if source_label == "service":
        return vector
    return f'label_replace({vector}, "service", "$1", "{source_label}", "(.*)")'


def since(series: str) -> str:
    """Exact increase of the counter ``series`` since the window started, per series.

    The counter now minus its value at the weight change, no extrapolation (``increase()``
    scales partial windows up: 2/10 can read 4/20). The value at the change is the last
    sample at or before it (``last_over_time(series[5m] @ {start})``), not the instant
    value ``series @ {start}``: one failed scrape around the change writes a staleness
    marker, the instant value is then absent, and the fallback below would count the
    series' whole history (a past fault's errors) as this step's (seen in the lab).
    A series that reset inside the window (its difference is negative) or was born
    inside it (no sample in the 5 minutes before the start) counts its current value:
    for a reset that undercounts the requests before the reset, for a new series it is
    exact.
    """
    return (f"(({series} - last_over_time({series}[5m] @ {{start}})) >= 0 or {series})")


def counts_query(total: str, errors: str) -> str:
    """The one-query error-rate template from two per-request vectors (already windowed).

    ``total`` and ``errors`` are instant vectors with a ``service`` label (e.g.
    ``since(x)``); the result has ``kind="total"`` and ``kind="errors"`` per
    service, with errors falling back to ``total * 0`` when no error series exists.
    """
    t = f"sum by (service) ({total})"
    e = f"sum by (service) ({errors})"
    return (
        f'label_replace({t}, "kind", "total", "", "")\n'
        f'or label_replace({e}, "kind", "errors", "", "")\n'
        f'or label_replace({t} * 0, "kind", "errors", "", "")'
    )


def error_query(metric: str, selector: str, errors: str, source_label: str = "service") -> str:
    """Error-rate template for a counter labelled per status: ``errors`` selects the 5xx."""
    total = relabel(since(f"{metric}{{{selector}}}"), source_label)
    errs = relabel(since(f"{metric}{{{selector}, {errors}}}"), source_label)
    return counts_query(total, errs)


def bucket_query(metric: str, selector: str, source_label: str = "service") -> str:
    """The latency template: cumulative bucket counts per ``(service, le)`` over the window."""
    inner = relabel(since(f"{metric}{{{selector}}}"), source_label)
    return f"sum by (service, le) ({inner})"


_HAPROXY_SERVERS = 'server=~"{services}"'
# Envoy Gateway's per-backend cluster of a route rule; the gateway router supplies the indices.
_ENVOY_RULE = "httproute/{namespace}/{route}/rule/{rule_index}"
_ENVOY_CLUSTERS = 'envoy_cluster_name=~"{live_cluster}|{new_cluster}"'


def _envoy(vector: str) -> str:
    """Name each colour's Envoy cluster after its Service."""
    inner = (
        f'label_replace({vector}, "service", "{{live_service}}", '
        f'"envoy_cluster_name", "{{live_cluster}}")'
    )
    return (
        f'label_replace({inner}, "service", "{{new_service}}", '
        f'"envoy_cluster_name", "{{new_cluster}}")'
    )


def _envoy_errors() -> str:
    rq = since(f"envoy_cluster_upstream_rq_total{{{_ENVOY_CLUSTERS}}}")
    xx = since(
        "envoy_cluster_upstream_rq_xx"
        f'{{{_ENVOY_CLUSTERS}, envoy_response_code_class="5"}}'
    )
    return counts_query(_envoy(rq), _envoy(xx))


_HAPROXY_TOTAL = relabel(
    since(f"haproxy_server_http_responses_total{{{_HAPROXY_SERVERS}}}"), "server"
)

PRESETS: dict[str, Preset] = {
    "app": Preset(
        name="app",
        error_query=error_query(
            "http_requests_total", 'namespace="{namespace}", service=~"{services}"', 'code=~"5.."'
        ),
        latency_query=bucket_query(
            "http_request_duration_seconds_bucket",
            'namespace="{namespace}", service=~"{services}"',
        ),
    ),
    "nginx": Preset(
        name="nginx",
        error_query=error_query(
            "nginx_ingress_controller_requests",
            'namespace="{namespace}", service=~"{services}"',
            'status=~"5.."',
        ),
        latency_query=bucket_query(
            "nginx_ingress_controller_request_duration_seconds_bucket",
            'namespace="{namespace}", service=~"{services}"',
        ),
    ),
    "istio": Preset(
        name="istio",
        error_query=error_query(
            "istio_requests_total",
            'reporter="source", destination_service_namespace="{namespace}", '
            'destination_service_name=~"{services}"',
            'response_code=~"5.."',
            "destination_service_name",
        ),
        latency_query=bucket_query(
            "istio_request_duration_milliseconds_bucket",
            'reporter="source", destination_service_namespace="{namespace}", '
            'destination_service_name=~"{services}"',
            "destination_service_name",
        ),
        latency_scale=0.001,
    ),
    "envoy": Preset(
        name="envoy",
        error_query=_envoy_errors(),
        latency_query=(
            "sum by (service, le) ("
            + _envoy(since(f"envoy_cluster_upstream_rq_time_bucket{{{_ENVOY_CLUSTERS}}}"))
            + ")"
        ),
        latency_scale=0.001,
        defaults=(
            ("live_cluster", _ENVOY_RULE + "/backend/{live_backend_index}"),
            ("new_cluster", _ENVOY_RULE + "/backend/{new_backend_index}"),
        ),
    ),
    "haproxy": Preset(
        name="haproxy",
        error_query=counts_query(
            _HAPROXY_TOTAL,
            relabel(
                since(f'haproxy_server_http_responses_total{{{_HAPROXY_SERVERS}, code="5xx"}}'),
                "server",
            ),
        ),
        latency_query=(
            "max by (service) ("
            + relabel(
                f"haproxy_server_response_time_average_seconds{{{_HAPROXY_SERVERS}}}", "server"
            )
            + f")\nand on (service) (sum by (service) ({_HAPROXY_TOTAL}) > 0)"
        ),
        latency_kind=CheckKind.THRESHOLD,
        latency_note=(
            "HAProxy 2.6 exports no latency histogram: this is the MEAN response time over "
            "the server's last 1024 requests, not a quantile and not limited to the window"
        ),
    ),
}


def _names() -> str:
    return ", ".join(sorted(PRESETS))


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name is ``InvalidInput``."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InvalidInput(f"analysis.preset: expected one of {_names()}, got {name!r}") from None


def build_checks(
    *,
    preset: str | None,
    max_error_rate: float | None,
    max_latency: float | None,
    latency_quantile: float = 0.99,
    max_error_rate_over_baseline: float | None = 0.01,
    max_latency_over_baseline: float | None = None,
    min_requests: int = 50,
    alpha: float = 0.01,
    custom: Sequence[CheckSpec] = (),
    extra: Sequence[str] = (),
) -> list[CheckSpec]:
    """The checks of one rollout: the preset's (for each limit given) then the custom ones.

    ``extra`` names the placeholders ``RenderContext.extra`` will provide, so templates using
    them pass the placeholder check here, before anything runs.
    """
    _check_range("analysis.latencyQuantile", latency_quantile, 0.0, 1.0)
    _check_range("analysis.alpha", alpha, 0.0, 0.5)
    if max_error_rate is not None:
        _check_range("analysis.maxErrorRate", max_error_rate, 0.0, 1.0)
    if max_latency is not None and max_latency <= 0:
        raise InvalidInput(f"analysis.maxLatency: expected a duration > 0, got {max_latency}")
    if min_requests < 1:
        raise InvalidInput(f"analysis.minRequests: expected an integer >= 1, got {min_requests}")
    checks: list[CheckSpec] = []
    common = {"min_requests": min_requests, "alpha": alpha}
    if preset is not None:
        p = get_preset(preset)
        if max_error_rate is not None:
            checks.append(CheckSpec(
                name="error-rate", kind=CheckKind.ERROR_RATE, query=p.error_query,
                max=max_error_rate, max_over_baseline=max_error_rate_over_baseline,
                defaults=p.defaults, **common,  # type: ignore[arg-type]
            ))
        if max_latency is not None:
            checks.append(CheckSpec(
                name=f"latency-p{latency_quantile * 100:g}" if p.latency_kind
                is CheckKind.LATENCY else "latency-mean",
                kind=p.latency_kind, query=p.latency_query, max=max_latency,
                max_over_baseline=max_latency_over_baseline, quantile=latency_quantile,
                scale=p.latency_scale, note=p.latency_note, defaults=p.defaults,
                **common,  # type: ignore[arg-type]
            ))
    checks.extend(custom)
    seen: set[str] = set()
    for c in checks:
        if c.name in seen:
            raise InvalidInput(f"analysis.checks[{c.name}]: duplicate check name")
        seen.add(c.name)
        known = set(BUILTIN) | set(extra) | {k for k, _ in c.defaults}
        check_template(c.query, check=c.name, known=known)
        for key, template in c.defaults:
            if key in extra:
                continue
            try:
                check_template(template, check=c.name, known=set(BUILTIN) | set(extra))
            except InvalidInput:
                raise InvalidInput(
                    f"analysis.checks[{c.name}]: needs analysis.extra.{key} (or what its "
                    f"default {template!r} uses)"
                ) from None
    return checks


def _check_range(field: str, value: float, lo: float, hi: float) -> None:
    if not lo < value < hi:
        raise InvalidInput(f"{field}: expected a number between {lo:g} and {hi:g}, got {value}")
