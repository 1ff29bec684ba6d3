"""Finding Kubernetes credentials the way kubectl does.

Order (client-go ``clientcmd.ClientConfigLoadingRules``): ``--kubeconfig FILE`` (one file,
which must exist); else every file in ``KUBECONFIG`` (a ``:``-separated list), merged;
else ``~/.kube/config``; else the pod's service account. Merging follows client-go's rule
(``staging/src/k8s.io/client-go/tools/clientcmd/loader.go``): files that do not exist and
empty entries are skipped, an empty file adds nothing, and *the first file to set a
value wins*: the first ``current-context`` and the first cluster, context or user of a
given name. (The Python client's own merger lets a later ``current-context`` win and
refuses an empty file, so it is not used for the merge.)

``kubeconfig_sources`` and ``merge`` are pure; ``read`` does the file I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shifter.errors import InvalidInput
from shifter.yamlload import check_kubeconfig

SECTIONS = ("clusters", "contexts", "users")


@dataclass(frozen=True)
class Sources:
    """Where credentials come from: kubeconfig ``files`` (merged in order), or none."""

    files: tuple[str, ...]
    explicit: bool  # --kubeconfig: the one file must exist
    described: str  # for messages: "--kubeconfig x", "KUBECONFIG", "~/.kube/config"


def kubeconfig_sources(flag: str | None, env: Mapping[str, str], home: str) -> Sources:
    """Which files to read, as kubectl picks them (no I/O)."""
    if flag:
        return Sources((os.path.expanduser(flag),), True, f"--kubeconfig {flag}")
    listed = env.get("KUBECONFIG", "")
    if listed:
        files = tuple(os.path.expanduser(p) for p in listed.split(os.pathsep) if p)
        return Sources(files, False, "KUBECONFIG")
    return Sources((os.path.join(home, ".kube", "config"),), False, "~/.kube/config")


def merge(documents: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """One kubeconfig from ``(path, document)`` pairs: the first value set wins. Each entry
    keeps the path of the file it came from (``_path``, for relative certificate paths)."""
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Config",
                           **{s: [] for s in SECTIONS}}
    seen: dict[str, set[str]] = {s: set() for s in SECTIONS}
    for path, doc in documents:
        if not out.get("current-context") and doc.get("current-context"):
            out["current-context"] = doc["current-context"]
        for section in SECTIONS:
            for entry in doc.get(section) or []:
                if not isinstance(entry, Mapping) or "name" not in entry:
                    raise InvalidInput(f"kubeconfig: {path}: every entry of {section} needs "
                                       f"a name")
                name = str(entry["name"])
                if name not in seen[section]:
                    seen[section].add(name)
                    out[section].append({**entry, "_path": path})
    return out


def read(sources: Sources) -> list[tuple[str, dict[str, Any]]]:
    """The documents of the files that exist (an explicit file must exist)."""
    docs: list[tuple[str, dict[str, Any]]] = []
    for path in sources.files:
        if not os.path.exists(path):
            if sources.explicit:
                raise InvalidInput(f"kubeconfig: {path} does not exist (--kubeconfig)")
            continue
        # Size, depth, aliases, duplicate keys and shape: one line naming the file, exit 2.
        data = check_kubeconfig(path)
        if not data:
            continue  # an empty file adds nothing, as with kubectl
        docs.append((path, data))
    return docs


def pick_context(merged: Mapping[str, Any], context: str | None, where: str) -> dict[str, Any]:
    """The context entry to use; a missing one is one line naming those there are."""
    names = [str(c["name"]) for c in merged.get("contexts") or []]
    wanted = context or merged.get("current-context")
    if not wanted:
        raise InvalidInput(f"kubeconfig: no current context set in {where} "
                           f"(use --context; contexts: {', '.join(names) or 'none'})")
    for entry in merged.get("contexts") or []:
        if entry["name"] == wanted:
            return dict(entry)
    flag = "--context" if context else "current-context"
    raise InvalidInput(f"kubeconfig: context {wanted!r} ({flag}) not found in {where} "
                       f"(contexts: {', '.join(names) or 'none'})")
