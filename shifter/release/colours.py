"""Live and idle colour as the router has them now, with each colour's images and ready
replicas (for ``shifter status``); read-only: ``get`` on the router objects and on
``deployments.apps``."""

from __future__ import annotations

from typing import Any

from shifter.errors import ShifterError
from shifter.kube.client import KubeClient


def colours_now(client: KubeClient, namespace: str, state: dict[str, Any]
                ) -> dict[str, Any] | None:
    """``{"live": {...}, "idle": {...}}`` (colour, images, ready, desired, share), None when
    the record names no router, ``{"error": ...}`` when the cluster cannot tell."""
    from shifter import wiring
    from shifter.config import build_config
    from shifter.release import readiness, template
    from shifter.release.flow import deployment_ref
    from shifter.routers import share

    if not state.get("router") or not state.get("services"):
        return None
    try:
        cfg = build_config({"release": state.get("release") or "x", "router": state["router"],
                            "services": state["services"],
                            **({"deployments": state["deployments"]}
                               if state.get("deployments") else {})})
        split = wiring.make_router(cfg, client, wiring.make_target(cfg, namespace)).read()
        out: dict[str, Any] = {}
        for role, colour in (("live", split.live), ("idle", split.new)):
            dep = client.get(deployment_ref(cfg, namespace, colour))
            st = readiness.rollout_status(dep)
            out[role] = {"colour": colour.value, "images": template.images_of(dep),
                         "ready": st.ready, "desired": st.desired,
                         "traffic": share(split, colour)}
        return out
    except ShifterError as exc:
        return {"error": str(exc)}


def render_deploy(deploy: dict[str, Any]) -> list[str]:
    """The record's ``deploy`` field (the phase before any traffic) for ``status``."""
    images = ", ".join(f"{k}={v}" for k, v in (deploy.get("images") or {}).items())
    line = f"deploy:   {deploy.get('phase')} ({deploy.get('new')}{': ' + images if images else ''})"
    if deploy.get("reason"):
        line += f": {deploy['reason']}"
    return [line]


def render(colours: dict[str, Any]) -> list[str]:
    """Text lines for ``status``."""
    if "error" in colours:
        return [f"colours:  cannot read: {colours['error']}"]
    lines = []
    for role in ("live", "idle"):
        c = colours[role]
        images = ", ".join(f"{k}={v}" for k, v in c["images"].items()) or "-"
        traffic = "?" if c["traffic"] is None else c["traffic"]
        lines.append(f"{role + ':':<9} {c['colour']} ({traffic}% now): {images}, "
                     f"{c['ready']}/{c['desired']} ready")
    return lines
