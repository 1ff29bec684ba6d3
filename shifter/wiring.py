"""Builds the parts of a rollout from a validated ``Config``: target, router, analyzer,
notifier, smoke checks. The only module that knows how config sections map onto parts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shifter.analysis import promauth
from shifter.analysis.analyzer import Analyzer
from shifter.analysis.checks import CheckKind, CheckSpec, RenderContext
from shifter.analysis.presets import build_checks
from shifter.analysis.prometheus import PrometheusSource
from shifter.config import Config
from shifter.kube.client import KubeClient
from shifter.notify import Notifier, Webhook
from shifter.plan import Plan
from shifter.routers.base import Colour, Router, Target
from shifter.routers.registry import build_router, placeholder_names
from shifter.smoke import SmokeCheck


def make_target(cfg: Config, namespace: str) -> Target:
    return Target(namespace=namespace, release=cfg.release,
                  blue_service=cfg.service("blue"), green_service=cfg.service("green"))


def make_router(cfg: Config, client: KubeClient, target: Target,
                router_cfg: Mapping[str, Any] | None = None) -> Router:
    section = dict(router_cfg if router_cfg is not None else cfg.router)
    kind = str(section.pop("kind", cfg.router_kind))
    return build_router(kind, client, target, section)


def make_checks(cfg: Config, extra: Sequence[str] | None = None, *,
                alpha: float | None = None) -> list[CheckSpec]:
    """The checks; ``extra`` names the router's placeholders (default: those it declares);
    ``alpha`` is the false-revert budget of the whole rollout (default ``analysis.alpha``)."""
    a = cfg.analysis
    alpha = a.alpha if alpha is None else alpha
    if extra is None:
        extra = list(live_new_placeholders(
            dict.fromkeys(placeholder_names(cfg.router_kind), ""), Colour.GREEN))
    custom = [CheckSpec(name=c.name, kind=CheckKind(c.kind), query=c.query, max=c.max,
                        max_over_baseline=c.max_over_baseline, quantile=c.quantile,
                        min_requests=a.min_requests, alpha=alpha) for c in a.checks]
    return build_checks(preset=a.preset, max_error_rate=a.max_error_rate,
                        max_latency=a.max_latency_p99,
                        max_error_rate_over_baseline=a.max_error_rate_over_baseline,
                        max_latency_over_baseline=a.max_latency_over_baseline,
                        min_requests=a.min_requests, alpha=alpha, custom=custom,
                        extra=tuple(extra))


def live_new_placeholders(per_colour: Mapping[str, str], new: Colour) -> dict[str, str]:
    """``blue_x``/``green_x`` placeholders as ``live_x``/``new_x`` too, for this rollout."""
    out = dict(per_colour)
    for key, value in per_colour.items():
        for colour, role in ((new, "new"), (new.other, "live")):
            prefix = f"{colour.value}_"
            if key.startswith(prefix):
                out[f"{role}_{key[len(prefix):]}"] = value
    return out


def make_analyzer(cfg: Config, target: Target, new: Colour, plan: Plan,
                  source: PrometheusSource | None = None,
                  placeholders: Mapping[str, str] | None = None) -> Analyzer:
    """The analysis of this rollout; ``analysis.alpha`` is the budget of the whole rollout,
    split among the checks by the analyzer (not over looks: the tests are anytime-valid)."""
    src = source or PrometheusSource(cfg.analysis.prometheus, timeout=cfg.analysis.timeout,
                                     session=promauth.session(cfg.analysis.prometheus_auth))
    router = cfg.router
    name = str(router.get("ingress") or router.get("route") or router.get("virtual_service")
               or router.get("service") or cfg.release)
    ctx = RenderContext(namespace=target.namespace, release=cfg.release,
                        live_service=target.service(new.other),
                        new_service=target.service(new), ingress=name, route=name,
                        extra=live_new_placeholders(placeholders or {}, new))
    a = cfg.analysis
    checks = make_checks(cfg, list(ctx.extra))
    return Analyzer(src, checks, ctx, pass_tolerance=a.pass_tolerance,
                    max_unavailable=a.max_unavailable, steps=len(plan.steps),
                    baseline_window=a.baseline_window or max(cfg.bake, 60.0),
                    plan=plan, strict=cfg.strict)


def make_smoke(cfg: Config, colour: str) -> list[SmokeCheck]:
    """The smoke checks of a rollout to ``colour`` (header values may use ``{colour}``)."""
    return [SmokeCheck(url=s.url, expect_status=s.expect_status, timeout=s.timeout,
                       retries=s.retries, method=s.method, name=s.name,
                       headers={k: v.format(colour=colour, color=colour)
                                for k, v in s.headers.items()})
            for s in cfg.smoke]


def make_notifier(cfg: Config, namespace: str) -> Notifier | None:
    if not cfg.notify:
        return None
    hooks = [Webhook(url=n.resolved_url(), format=n.format,
                     events=frozenset(n.events) if n.events else None) for n in cfg.notify]
    return Notifier(hooks, release=cfg.release, namespace=namespace)
