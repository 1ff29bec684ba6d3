"""YAML from users, loaded with limits: size, depth, alias expansion, duplicate keys.

``load_mapping`` is the one way shifter reads a YAML file a person wrote (``shift.yaml``, a
kubeconfig). Before PyYAML builds any object, the event stream is scanned (PyYAML's parser
is iterative, so this costs no recursion) and the document is refused when it

- is larger than ``MAX_BYTES`` or not UTF-8 text (a binary file);
- nests deeper than ``MAX_DEPTH`` (PyYAML's composer recurses once per level);
- expands to more than ``MAX_NODES`` nodes once every alias is counted as a copy of what it
  points to (a "billion laughs" document is a few hundred bytes that expand to 10^9 nodes:
  PyYAML shares the aliased objects, but anything walking them, as pydantic does, visits
  every copy);
- repeats a key in one mapping (``bake: 1m`` then ``bake: 5m``: which one did they mean?);
- holds more than one document.

Every refusal is a ``ConfigError`` naming the field (the dotted path of the offending node
where there is one) and what was wrong, in one line; nothing of the file's content is quoted
except key names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from shifter.errors import ConfigError

MAX_BYTES = 1024 * 1024  # a shift.yaml is a few KiB; a kubeconfig with certificates ~20 KiB
MAX_DEPTH = 32  # shift.yaml needs 4 levels, a kubeconfig 5
MAX_NODES = 100_000  # after alias expansion


class _Frame:
    """One open collection while scanning: its kind, path, keys seen, and node count."""

    __slots__ = ("anchor", "count", "expect_key", "is_map", "key", "keys", "path", "index")

    def __init__(self, is_map: bool, path: str, anchor: str | None) -> None:
        self.is_map = is_map
        self.path = path
        self.anchor = anchor
        self.count = 1
        self.expect_key = True  # mappings alternate key, value
        self.key: str | None = None
        self.keys: set[str] = set()
        self.index = 0

    def child_path(self) -> str:
        """The dotted path of the value being read in this collection."""
        if not self.is_map:
            return f"{self.path}[{self.index}]"
        key = self.key if self.key is not None else "?"
        return f"{self.path}.{key}" if self.path else key


def _top(path: str) -> str:
    """The top-level field of a path: ``router`` for ``router[0][0]``."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _line(event: yaml.Event) -> str:
    mark = event.start_mark
    return f" (line {mark.line + 1})" if mark is not None else ""


def check_events(text: str, *, name: str, field: str = "file", max_depth: int = MAX_DEPTH,
                 max_nodes: int = MAX_NODES) -> None:
    """Scan ``text`` without building it; raise ``ConfigError`` on any limit or duplicate."""
    stack: list[_Frame] = []
    sizes: dict[str, int] = {}  # anchor -> expanded node count
    total = 0
    documents = 0

    def fail(where: str, message: str) -> ConfigError:
        """A shift.yaml error names the field; another file's (a kubeconfig) names the file
        first and the place in it after."""
        if field == "file":
            return ConfigError(where or field, message)
        return ConfigError(field, f"{message} (at {where})" if where else message)

    def add(n: int, where: str, event: yaml.Event) -> None:
        nonlocal total
        total += n
        if stack:
            stack[-1].count += n
        if total > max_nodes:
            raise fail(_top(where),
                              f"{name} expands to more than {max_nodes} YAML nodes (aliases "
                              f"counted as copies){_line(event)}")

    def value_done() -> None:
        if not stack:
            return
        top = stack[-1]
        if top.is_map:
            top.expect_key = True
            top.key = None
        else:
            top.index += 1

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise ConfigError(field, f"{name} holds more than one YAML document")
                continue
            if not isinstance(event, yaml.NodeEvent | yaml.CollectionEndEvent):
                continue
            top = stack[-1] if stack else None
            where = top.child_path() if top else ""
            if top is not None and top.is_map and top.expect_key:
                # a key: scalars are checked for duplicates; complex keys just counted
                if isinstance(event, yaml.ScalarEvent):
                    key = event.value
                    if key != "<<" and key in top.keys:
                        path = f"{top.path}.{key}" if top.path else key
                        raise fail(path, f"duplicate key in {name}{_line(event)}")
                    top.keys.add(key)
                    top.key = key
                    top.expect_key = False
                    add(1, where, event)
                    continue
                if isinstance(event, yaml.AliasEvent):
                    top.expect_key = False
                    add(sizes.get(str(event.anchor), 1), where, event)
                    continue
            if isinstance(event, yaml.CollectionEndEvent):
                done = stack.pop()
                if done.anchor is not None:
                    sizes[done.anchor] = done.count
                if stack:
                    stack[-1].count += done.count
                value_done()
                continue
            if isinstance(event, yaml.AliasEvent):
                add(sizes.get(str(event.anchor), 1), where, event)
                value_done()
                continue
            if isinstance(event, yaml.ScalarEvent):
                add(1, where, event)
                if event.anchor is not None:
                    sizes[event.anchor] = 1
                value_done()
                continue
            assert isinstance(event, yaml.CollectionStartEvent)
            if len(stack) >= max_depth:
                raise fail(_top(where), f"{name} nests deeper than {max_depth} "
                                                  f"levels{_line(event)}")
            if top is not None and top.is_map and top.expect_key:
                top.expect_key = False  # a complex key
            total += 1
            if total > max_nodes:
                add(0, where, event)
            stack.append(_Frame(isinstance(event, yaml.MappingStartEvent), where,
                                event.anchor))
    except yaml.YAMLError as exc:
        raise ConfigError(field, f"{name} is not valid YAML{_mark(exc)}") from None


def _mark(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return ""
    problem = getattr(exc, "problem", None)
    what = f": {problem}" if isinstance(problem, str) and len(problem) < 80 else ""
    return f" at line {mark.line + 1}{what}"


def read_text(path: str | Path, *, field: str = "file", max_bytes: int = MAX_BYTES) -> str:
    """A file's text: readable, at most ``max_bytes``, UTF-8; else a ``ConfigError``."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(field, f"cannot read {p}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise ConfigError(field, f"{p} is larger than {max_bytes // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(field, f"{p} is not UTF-8 text (a binary file?)") from None
    if "\x00" in text:
        raise ConfigError(field, f"{p} is not text (it holds NUL bytes)")
    return text


def loads(text: str, *, name: str = "the YAML", field: str = "file") -> Any:
    """Parse one YAML document from a string within the limits above."""
    if len(text) > MAX_BYTES:
        raise ConfigError(field, f"{name} is larger than {MAX_BYTES // 1024} KiB")
    check_events(text, name=name, field=field)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:  # constructor errors (e.g. an unknown tag)
        raise ConfigError(field, f"{name} is not valid YAML{_mark(exc)}") from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        raise ConfigError(field, f"{name} cannot be loaded ({type(exc).__name__})") from None


def load_mapping(path: str | Path, *, field: str = "file", what: str = "") -> dict[str, Any]:
    """A YAML file whose top level is a mapping (empty file: ``{}``), within the limits."""
    text = read_text(path, field=field)
    name = f"{what} {path}".strip()
    data = loads(text, name=name, field=field)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(field, f"expected a YAML mapping at the top of {name}, got a "
                                 f"{_kind(data)}")
    return data


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def check_kubeconfig(path: str | Path) -> dict[str, Any]:
    """A kubeconfig file, loaded within the limits and checked for the shape the Kubernetes
    client assumes (lists of named mappings), so a broken file is one line naming it."""
    field = "kubeconfig"
    data = load_mapping(path, field=field, what="kubeconfig")
    for key in ("clusters", "contexts", "users"):
        items = data.get(key)
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ConfigError(field, f"{path}: expected '{key}' to be a list of mappings")
        for i, item in enumerate(items):
            singular = key[:-1]
            if not isinstance(item.get("name"), str) or not isinstance(
                    item.get(singular, {}), dict):
                raise ConfigError(field, f"{path}: expected {key}[{i}] to have a 'name' and a "
                                         f"'{singular}' mapping")
    current = data.get("current-context")
    if current is not None and not isinstance(current, str):
        raise ConfigError(field, f"{path}: expected 'current-context' to be a string")
    return data
