"""Routers that split traffic by two weights in a list: Gateway API and Istio share this.

``Weighted`` is the pure part (what was read, the split it makes, the JSON patch that sets
new weights); ``WeightedRouter`` the write cycle: read, one JSON patch, read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from shifter.errors import InvalidInput
from shifter.kube.client import KubeClient, ObjectRef
from shifter.routers._patch import (
    Op,
    json_change,
    op_add,
    op_set,
    op_test,
    percent,
    pointer,
    revert_stamp,
    rv_test,
    send,
    stamp_ops,
    targets,
    verify,
)
from shifter.routers.base import Change, Colour, Split, Target

log = structlog.get_logger("shifter.routers")


class Weighted:
    """The colour entries of one weighted list as read: where they are and what they weigh.

    ``base`` is the JSON pointer of the list; ``index`` the position of each colour's entry
    (a colour may be missing: Istio allows a single destination); ``weight`` the weight as
    written (None when absent); ``default`` what an absent weight means; ``idents`` the
    (relative pointer, value) pairs that identify each entry and are ``test``-ed before any
    write; ``template`` the entry to append for a missing colour.
    """

    def __init__(self, base: str, *, index: dict[Colour, int], weight: dict[Colour, int | None],
                 default: int, idents: dict[Colour, list[tuple[str, Any]]],
                 template: dict[Colour, dict[str, Any]] | None = None,
                 weight_key: str = "weight", obj: dict[str, Any] | None = None) -> None:
        self.obj = obj or {}  # the object as read (its metadata fences the write)
        self.base = base
        self.index = index
        self.weight = weight
        self.default = default
        self.idents = idents
        self.template = template or {}
        self.weight_key = weight_key

    def effective(self, colour: Colour) -> int:
        if colour not in self.index:
            return 0
        value = self.weight.get(colour)
        return self.default if value is None else value

    def first(self) -> Colour:
        return min(self.index, key=lambda c: self.index[c])

    def split(self, hint: Colour | None) -> tuple[Split, str]:
        """The split these weights make, and why it is None when it cannot be told.

        Live is the colour with the larger weight; on a tie (50/50) it is ``hint`` (the
        colour this router last left live) or else the first of the two in the list.
        """
        eff = {c: self.effective(c) for c in Colour}
        total = sum(eff.values())
        if total == 0:
            return Split(hint or self.first(), None), "every colour has weight 0"
        if eff[Colour.BLUE] != eff[Colour.GREEN]:
            live = max(eff, key=lambda c: eff[c])
        else:
            live = hint or self.first()
        return Split(live, percent(eff[live.other], total)), ""

    def ops(self, want: Mapping[Colour, int]) -> list[Op]:
        """JSON patch: test what identifies each entry and its weight, then set the weights.

        Touches only the weights of the two entries (and appends a missing colour's entry
        when it must get traffic); every other field and entry stays as it is.
        """
        tests: list[Op] = []
        sets: list[Op] = []
        for colour in sorted(self.index, key=lambda c: self.index[c]):
            at = f"{self.base}/{self.index[colour]}"
            tests += [op_test(at + rel, value) for rel, value in self.idents[colour]]
            current = self.weight.get(colour)
            wkey = at + pointer(self.weight_key)
            if current is not None:
                tests.append(op_test(wkey, current))
            sets.append(op_set(wkey, want[colour], present=current is not None))
        for colour in Colour:
            if colour not in self.index and want[colour] > 0:
                entry = dict(self.template[colour])
                entry[self.weight_key] = want[colour]
                sets.append(op_add(f"{self.base}/-", entry))
        return tests + sets


class WeightedRouter:
    """The shared body of the gateway and istio routers; subclasses say how to load."""

    supports_partial = True
    field = "router"  # the config field named in errors about the object's shape

    def __init__(self, client: KubeClient, target: Target, ref: ObjectRef) -> None:
        self.client = client
        self.target = target
        self.ref = ref
        self.reason = ""  # why the last read() returned weight None
        self._hint: Colour | None = None  # the colour this router last left live

    @property
    def where(self) -> str:
        return f"{self.ref.kind} {self.target.namespace}/{self.ref.name}"

    def load(self) -> tuple[Weighted | None, str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def query_placeholders(self) -> dict[str, str]:
        return {}

    def objects(self) -> list[ObjectRef]:
        return [self.ref]

    def _loaded(self) -> Weighted:
        weighted, why = self.load()
        if weighted is None:
            raise InvalidInput(f"{self.field}: {self.where}: {why}")
        return weighted

    def read(self) -> Split:
        weighted, why = self.load()
        if weighted is None:
            split = Split(self._hint or Colour.BLUE, None)
        else:
            split, why = weighted.split(self._hint)
        self.reason = why
        if why:
            log.warning("router.unreadable", object=str(self.ref), reason=why)
        return split

    def _write(self, want: dict[Colour, int], live: Colour, summary: str,
               dry_run: bool, *, revert: bool = False) -> list[Change]:
        """One JSON patch. A forward one also tests the resourceVersion read, so if the
        server applies it late, after anything else was written, it fails; a revert always
        changes the object (``shifter.dev/reverted-at``) so that such a write is refused."""
        weighted = self._loaded()
        ops = weighted.ops(want)
        ops = (ops + stamp_ops(weighted.obj, revert_stamp()) if revert
               else rv_test(weighted.obj) + ops)
        change = json_change(self.ref, ops, summary)
        send(self.client, change, dry_run=dry_run)
        if not dry_run:
            self._hint = live
            verify(self.read, Split(live, want[live.other]), str(self.ref))
        return [change]

    def set_weight(self, new: Colour, weight: int, *, dry_run: bool = False) -> list[Change]:
        want = targets(new, weight)
        live = new.other if weight < 100 else new
        return self._write(want, live, f"{weight}% to {new}", dry_run)

    def promote(self, new: Colour, *, dry_run: bool = False) -> list[Change]:
        return self._write(targets(new, 100), new, f"promote {new}: 100% to {new}", dry_run)

    def revert(self, new: Colour, *, dry_run: bool = False) -> list[Change]:
        return self._write(targets(new, 0), new.other,
                           f"revert: 100% to {new.other}, 0% to {new}", dry_run, revert=True)
