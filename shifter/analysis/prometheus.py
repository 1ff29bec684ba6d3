"""Prometheus queries through prometheus-api-client, errors translated at this boundary.

    requests ConnectionError / Timeout, HTTP 5xx, non-JSON  -> PrometheusUnavailable (exit 5)
    HTTP 400 (bad_data) or 422 (execution error)            -> QueryError (InvalidInput, 2)

No retries here: the client's own retry adapter is switched off so a caller's retry
wrapper (``shifter.retry``) decides. Messages name the URL with any userinfo and query
string removed; request headers (tokens) are never logged.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from shifter.errors import InvalidInput, PrometheusUnavailable

Sample = tuple[dict[str, str], float]


class QueryError(InvalidInput):
    """Prometheus refused the query (it does not parse or cannot run); ``detail`` says why."""

    def __init__(self, detail: str, *, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


class QuerySource(Protocol):
    """Anything that answers an instant query (the analyzer's only I/O seam)."""

    def query(self, promql: str, *, at: float | None = None) -> list[Sample]:
        """Evaluate ``promql`` now (or at unix time ``at``); one sample per series."""
        ...


def redact_url(url: str) -> str:
    """``https://u:p@host/x?token=1`` -> ``https://host/x``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "<unparsable URL>"


_STATUS = re.compile(r"HTTP Status Code (\d+) \((.*)\)\s*$", re.S)


class PrometheusSource:
    """Instant queries against one Prometheus; use as a context manager or call ``close``."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        verify_tls: bool = True,
        session: Any = None,  # a requests.Session with credentials (``promauth.session``)
    ) -> None:
        from prometheus_api_client import PrometheusConnect  # ~80 ms: only when used
        from urllib3.util.retry import Retry

        self.url = url.rstrip("/")
        self.safe_url = redact_url(self.url)
        self.timeout = timeout
        self._client: Any = PrometheusConnect(
            url=self.url,
            headers=dict(headers or {}),
            disable_ssl=not verify_tls,
            session=session,
            retry=Retry(total=0, connect=0, read=0, status=0, redirect=0, raise_on_status=False),
            timeout=timeout,
        )

    def query(self, promql: str, *, at: float | None = None) -> list[Sample]:
        """Evaluate ``promql``; raise ``PrometheusUnavailable`` or ``QueryError``."""
        import requests
        from prometheus_api_client.exceptions import PrometheusApiClientException

        params = {"time": repr(float(at))} if at is not None else {}
        try:
            result = self._client.custom_query(promql, params=params)
        except PrometheusApiClientException as exc:
            raise self._translate(str(exc)) from exc
        except (requests.RequestException, ValueError) as exc:
            raise PrometheusUnavailable(
                f"Prometheus at {self.safe_url} did not answer: {type(exc).__name__}"
            ) from exc
        return parse_vector(result)

    def check_online(self) -> None:
        """Raise ``PrometheusUnavailable`` unless Prometheus answers a trivial query."""
        self.query("vector(1)")

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _translate(self, message: str) -> Exception:
        m = _STATUS.match(message)
        status = int(m.group(1)) if m else 0
        detail = _error_detail(m.group(2)) if m else message
        if status in (400, 422):
            return QueryError(detail, status=status)
        return PrometheusUnavailable(
            f"Prometheus at {self.safe_url} answered HTTP {status or '?'}: {detail}"
        )


def _error_detail(content_repr: str) -> str:
    """Prometheus's one-line ``error`` from the client's ``repr(response.content)``."""
    try:
        body = ast.literal_eval(content_repr)
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    except (ValueError, SyntaxError):
        text = content_repr
    try:
        data = json.loads(text)
        if isinstance(data, dict) and data.get("error"):
            text = str(data["error"])
    except ValueError:
        pass
    return " ".join(text.split())[:500]


def parse_vector(result: object) -> list[Sample]:
    """Instant-vector JSON -> samples; anything else is a ``QueryError``."""
    if not isinstance(result, list):
        raise QueryError("expected an instant vector, got a scalar or string result")
    samples: list[Sample] = []
    for item in result:
        if not isinstance(item, dict) or "value" not in item:
            raise QueryError("expected an instant vector, got a range vector or scalar")
        labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        try:
            value = float(item["value"][1])
        except (TypeError, ValueError, IndexError):
            value = math.nan
        samples.append((labels, value))
    return samples
