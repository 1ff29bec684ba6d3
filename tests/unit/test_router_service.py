"""Service router: selector parsing, the one-key merge patch, all-or-nothing weights."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shifter.errors import InvalidInput
from shifter.kube.client import PatchType
from shifter.routers.base import Colour, Split
from shifter.routers.service import (
    ColourValues,
    ServiceConfig,
    ServiceRouter,
    selector_body,
    selector_colour,
)
from tests.unit.test_router_fakekube import TARGET, FakeKube, ref, service, with_services

BLUE, GREEN = Colour.BLUE, Colour.GREEN


def stable(selector: dict[str, str]) -> dict[str, Any]:
    svc = service("shop", selector)
    svc["metadata"]["annotations"] = {"keep": "me"}
    return svc


def router(selector: dict[str, str], **cfg: Any) -> tuple[ServiceRouter, FakeKube]:
    fake = with_services(FakeKube())
    fake.put(ref("Service", "shop"), stable(selector))
    return ServiceRouter(fake, TARGET, ServiceConfig(**cfg)), fake


def test_selector_colour_and_body() -> None:
    values = ColourValues()
    assert selector_colour(stable({"color": "green"}), "color", values) == (GREEN, "")
    colour, why = selector_colour(stable({"app": "shop"}), "color", values)
    assert colour is None and "selector color=None is neither 'blue' nor 'green'" in why
    assert selector_body("track", "v2") == {"spec": {"selector": {"track": "v2"}}}


def test_round_trip_flips_only_its_key() -> None:
    r, fake = router({"app": "shop", "color": "blue"})
    assert r.supports_partial is False
    r.check()
    assert r.read() == Split(BLUE, 0)
    changes = r.promote(GREEN)
    assert changes[0].patch_type is PatchType.MERGE
    # the forward write is fenced by the resourceVersion it read
    assert changes[0].body == {"spec": {"selector": {"color": "green"}},
                               "metadata": {"resourceVersion": "3"}}
    assert r.read() == Split(GREEN, 0)
    r.revert(GREEN)
    assert r.read() == Split(BLUE, 0)
    r.set_weight(GREEN, 100)
    assert r.read() == Split(GREEN, 0)
    r.set_weight(GREEN, 0)
    assert r.read() == Split(BLUE, 0)
    svc = fake.get(ref("Service", "shop"))
    assert svc["spec"]["selector"] == {"app": "shop", "color": "blue"}
    assert svc["metadata"]["annotations"].pop("shifter.dev/reverted-at")  # the revert's fence
    assert svc["metadata"]["annotations"] == {"keep": "me"}


def test_custom_label_and_values() -> None:
    r, _ = router({"app": "shop", "track": "v2"}, label="track",
                  values={"blue": "v1", "green": "v2"})
    assert r.read() == Split(GREEN, 0)
    r.promote(BLUE)
    assert r.read() == Split(BLUE, 0)


def test_partial_weight_is_invalid_input_and_writes_nothing() -> None:
    r, fake = router({"color": "blue"})
    with pytest.raises(InvalidInput, match="cannot split traffic; expected 0 or 100, got 10"):
        r.set_weight(GREEN, 10)
    with pytest.raises(InvalidInput, match="weight: expected an integer percent"):
        r.set_weight(GREEN, 101)
    assert fake.writes == []


def test_dry_run_and_errors() -> None:
    r, fake = router({"color": "blue"})
    r.promote(GREEN, dry_run=True)
    assert r.read() == Split(BLUE, 0)
    fake.put(ref("Service", "shop"), stable({"color": "red"}))
    with pytest.raises(InvalidInput, match="router.service: Service demo/shop: selector"):
        r.read()
    with pytest.raises(ValidationError):
        ServiceConfig(values={"blue": "x", "green": "x"})
    del fake.objects[ref("Service", "shop").path]
    with pytest.raises(InvalidInput, match="^router.service: Service demo/shop not found$"):
        r.check()
