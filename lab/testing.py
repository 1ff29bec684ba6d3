"""Helpers for tests and benchmarks that use a running lab."""

from __future__ import annotations

import http.client
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def measure_split(ingress_url: str, n: int = 400, path: str = "/") -> dict[str, float]:
    """Send `n` requests through the ingress on one keep-alive connection.

    Returns the percentage of answers per colour (``X-Colour``), with non-200 answers
    counted under ``"status:<code>"`` and connection errors under ``"error"``.
    """
    url = urllib.parse.urlsplit(ingress_url)
    counts: Counter[str] = Counter()
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        for _ in range(n):
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                counts["error"] += 1
                continue
            if resp.status == 200:
                counts[resp.getheader("X-Colour") or "none"] += 1
            else:
                counts[f"status:{resp.status}"] += 1
    finally:
        conn.close()
    return {key: 100.0 * value / n for key, value in counts.items()}


@contextmanager
def kube_client(kubeconfig: str) -> Iterator[Any]:
    """An official `kubernetes` ApiClient for the lab's kubeconfig, closed afterwards."""
    from kubernetes import config

    client = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, context="lab"
    )
    try:
        yield client
    finally:
        client.close()
