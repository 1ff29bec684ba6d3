"""Keep secrets out of logs and output.

Webhook URLs (a Slack incoming-webhook URL embeds its token in the path), bearer tokens,
passwords and URL credentials are secrets. Everything user-visible that could carry one
goes through this module:

- ``redact_url`` shows only where a secret URL points (scheme, host, port);
- ``strip_url_credentials`` keeps a non-secret URL readable (path kept) but drops the
  userinfo and query values;
- ``redact_text`` replaces known secret values (and any ``Bearer`` token) in free text;
- ``redact_processor`` is a structlog processor doing all of that on every event dict.
  Put it after ``format_exc_info`` and just before the renderer, so tracebacks are
  scrubbed too.

One registry per process holds the secret values known so far: ``register`` adds them (the
config loader registers what it finds with ``secrets_in``: URL passwords, secret query
values, webhook URLs, secret-named headers and fields; the Kubernetes client its token),
and ``scrub``/``scrub_text`` apply it together with the patterns above. Every output path
goes through it: the structlog processor (stderr), the reporter's single write point
(stdout text and JSON, the GitHub step summary), every error's message
(``ShifterError.__str__``), the Lease record and Events sent to the API server, and webhook
bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

# Header/field names whose whole value is a secret (matched as substrings, lower case).
_SECRET_KEYS = ("token", "authorization", "password", "passwd", "secret", "api_key", "apikey",
                "api-key", "cookie", "credential", "auth")
# Field names that hold a secret URL: shown through ``redact_url``.
_URL_SECRET_KEYS = ("webhook",)

_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_URL_WITH_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")


def redact_url(url: str) -> str:
    """``scheme://host[:port]/***``: where a secret URL points, never its path or query.

    ``https://hooks.slack.com/services/T0/B0/XYZ`` -> ``https://hooks.slack.com/***``.
    Anything that does not parse as a URL with a host becomes ``***``.
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    rest = "/" + MASK if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{netloc}{rest}"


def strip_url_credentials(url: str) -> str:
    """Keep scheme, host and path of a URL; mask its userinfo and every query value.

    ``http://u:p@svc/healthz?token=abc&x=1`` -> ``http://***@svc/healthz?token=***&x=***``.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return MASK
    if not host:
        return MASK if (parts.username or parts.query) else url
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"{MASK}@{netloc}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK) for k, _ in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def url_secrets(url: str) -> list[str]:
    """The pieces of a secret URL that must never appear anywhere, longest first.

    The URL itself, its path with query, its password and its query values: an HTTP
    library's error message may quote any of them.
    """
    out = {url}
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return [url]
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(path) > 1:
        out.add(path)
        out.add(parts.path)
    if password:
        out.add(password)
    for _, value in parse_qsl(parts.query):
        out.add(value)
    return sorted((s for s in out if len(s) > 1), key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every known secret substring, bearer/basic credentials and URL userinfo."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _URL_WITH_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(name in lowered for name in _SECRET_KEYS)


def redact_value(key: str, value: Any, secrets: Iterable[str]) -> Any:
    """Redact one field of a log event (or a header) by its name and value, recursively."""
    secrets = tuple(secrets)
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(key, v, secrets) for v in value)
    if _is_secret_key(key):
        if isinstance(value, str) and _BEARER.match(value.strip()):
            return redact_text(value.strip(), ())
        return MASK
    if any(name in key.lower() for name in _URL_SECRET_KEYS) and isinstance(value, str):
        return redact_url(value)
    if isinstance(value, str):
        return redact_text(value, secrets)
    return value


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers safe to show: ``Authorization: Bearer ***``, tokens and cookies masked."""
    return {k: str(redact_value(k, v, ())) for k, v in headers.items()}


Processor = Callable[[Any, str, MutableMapping[str, Any]], MutableMapping[str, Any]]


def redact_processor(secrets_provider: Callable[[], Iterable[str]] = tuple) -> Processor:
    """A structlog processor scrubbing each event dict.

    ``secrets_provider`` returns the secret values known right now (webhook URLs, tokens);
    it is called once per event, so secrets registered later are covered too.
    """

    def processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]
                  ) -> MutableMapping[str, Any]:
        secrets: list[str] = registered()
        for secret in secrets_provider():
            secrets.extend(url_secrets(secret) if "://" in secret else [secret])
        for key in list(event_dict):
            event_dict[key] = redact_value(key, event_dict[key], secrets)
        return event_dict

    return processor


# -- the process's registry of secret values ------------------------------------------------

_QUERY_SECRET_KEYS = frozenset({"key", "sig", "signature", "code", "access_token", "pass",
                                "pw", "pwd"})
MIN_SECRET = 3  # shorter values are not registered: masking "ab" everywhere ruins output
_REGISTRY: set[str] = set()


def register(*values: str) -> None:
    """Remember secret values (a URL is expanded with ``url_secrets``) for ``scrub``."""
    for value in values:
        if not isinstance(value, str) or len(value.strip()) < MIN_SECRET:
            continue
        value = value.strip()
        parts = url_secrets(value) if "://" in value else [value]
        if value.lower().startswith(("bearer ", "basic ")):
            parts.append(value.split(None, 1)[1])
        _REGISTRY.update(p for p in parts if len(p) >= MIN_SECRET)


def registered() -> list[str]:
    """The registered secrets, longest first (so a longer one is masked whole)."""
    return sorted(_REGISTRY, key=len, reverse=True)


def forget_all() -> None:
    """Empty the registry (tests)."""
    _REGISTRY.clear()


def scrub_text(text: str) -> str:
    """``text`` with every registered secret, bearer/basic credential and URL userinfo masked."""
    return redact_text(text, registered())


def scrub(value: Any) -> Any:
    """``value`` (str, or dicts/lists of them, recursively) with ``scrub_text`` applied."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(v) for v in value)
    return value


def _url_parts(url: str, *, whole: bool) -> list[str]:
    """The secret parts of a URL found in config: all of it for a secret URL (``whole``), else
    the password and the values of query parameters that look secret. (Other query values
    are masked where a URL is shown, but not registered: registering ``service=shop-green``
    would mask the Service's name in every record.)"""
    if whole:
        return url_secrets(url)
    try:
        parts = urlsplit(url)
        password = parts.password
        pairs = parse_qsl(parts.query, keep_blank_values=False)
    except ValueError:
        return []
    out = [password] if password else []
    out += [v for k, v in pairs if _is_secret_key(k) or k.lower() in _QUERY_SECRET_KEYS]
    return out


def secrets_in(data: Any, key: str = "") -> list[str]:
    """Secret values in a config tree: values of secret-named keys, every webhook URL
    (``url`` under ``notify``, or a key naming a webhook), and the passwords and secret
    query values of every other URL."""
    out: list[str] = []
    if isinstance(data, Mapping):
        for k, v in data.items():
            name = str(k)
            if isinstance(v, str) and key.startswith("notify") and name == "url":
                out += _url_parts(v, whole=True)
            else:
                out += secrets_in(v, f"{key}.{name}" if key else name)
        return out
    if isinstance(data, list | tuple):
        for item in data:
            out += secrets_in(item, key)
        return out
    if not isinstance(data, str):
        return out
    leaf = key.rsplit(".", 1)[-1]
    if _is_secret_key(leaf) and not leaf.endswith(("_env", "_file")):
        out.append(data)  # ``token_env``/``ca_file`` name where a secret is, not the secret
    elif any(n in leaf.lower() for n in _URL_SECRET_KEYS):
        out += _url_parts(data, whole=True)
    elif "://" in data:
        out += _url_parts(data, whole=False)
    return [s for s in out if s]
