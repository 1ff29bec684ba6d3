"""Traffic providers: one module per router behind ``base.Router``; names live in ``registry``.

    nginx    main Ingress + ingress-nginx canary Ingress (canary-weight)
    gateway  Gateway API HTTPRoute: two weighted backendRefs in one rule
    istio    Istio VirtualService: two weighted destinations in one HTTP route
    service  the stable Service's selector (no partial traffic)

Compare splits with ``share`` (percent on a colour), not ``==``: see ``_patch.share``.
"""

from shifter.routers._patch import share
from shifter.routers.base import Change, Colour, Router, Split, Target
from shifter.routers.registry import build_router, config_model, router_names

__all__ = ["Change", "Colour", "Router", "Split", "Target", "build_router", "config_model",
           "router_names", "share"]
