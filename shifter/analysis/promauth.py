"""Credentials and TLS for a secured or managed Prometheus (``analysis.prometheus_auth``).

* ``bearer_token_file`` / ``bearer_token_env``: ``Authorization: Bearer ...``, read again
  on every request, so a token rotated in the file (a projected service-account token, a
  Vault agent sink) or in the environment is used from the next query on;
* ``basic_auth_username_env`` + ``basic_auth_password_env``: HTTP basic auth from the
  environment (Prometheus's own ``--web.config.file`` ``basic_auth_users``);
* ``headers``: extra headers, e.g. ``X-Scope-OrgID`` for Mimir/Cortex/Thanos tenants;
* ``ca_file``: a CA bundle for the server's certificate; ``insecure_skip_verify``: none.

``check`` finds what would fail (a missing file, an unset variable) before any traffic
moves; ``secrets`` lists the values to scrub from logs. Error messages name the file or
the variable, never the value.
"""

from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING, Any

import structlog

from shifter.errors import ConfigError

if TYPE_CHECKING:
    import requests

    from shifter.config import PrometheusAuth

WHERE = "analysis.prometheus_auth"
log = structlog.get_logger("shifter.promauth")


def _env(name: str, field: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"{WHERE}.{field}", f"environment variable {name} is not set")
    return value


def _token(auth: PrometheusAuth) -> str | None:
    if auth.bearer_token_env:
        return _env(auth.bearer_token_env, "bearer_token_env").strip()
    if auth.bearer_token_file:
        try:
            with open(auth.bearer_token_file) as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise ConfigError(f"{WHERE}.bearer_token_file",
                              f"cannot read {auth.bearer_token_file}: {exc.strerror}") from None
        if not token:
            raise ConfigError(f"{WHERE}.bearer_token_file",
                              f"{auth.bearer_token_file} is empty")
        return token
    return None


def auth_headers(auth: PrometheusAuth) -> dict[str, str]:
    """The headers of one request, credentials read now (pure apart from the read)."""
    from shifter import redact

    headers = dict(auth.headers)
    token = _token(auth)
    if token is not None:
        redact.register(token)  # a rotated token is a new secret: never in any output
        headers["Authorization"] = f"Bearer {token}"
    elif auth.basic_auth_username_env and auth.basic_auth_password_env:
        user = _env(auth.basic_auth_username_env, "basic_auth_username_env")
        password = _env(auth.basic_auth_password_env, "basic_auth_password_env")
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        redact.register(password, pair)
        headers["Authorization"] = f"Basic {pair}"
    return headers


def verify(auth: PrometheusAuth) -> bool | str:
    """``requests``' ``verify``: a CA bundle path, False, or True (the system's CAs)."""
    if auth.insecure_skip_verify:
        return False
    if auth.ca_file:
        if not os.path.isfile(auth.ca_file):
            raise ConfigError(f"{WHERE}.ca_file", f"{auth.ca_file} does not exist")
        return auth.ca_file
    return True


def check(auth: PrometheusAuth) -> None:
    """Raise ConfigError for what a query would hit: unreadable file, unset variable."""
    auth_headers(auth)
    verify(auth)


def secrets(auth: PrometheusAuth) -> list[str]:
    """Credential values known now (for log redaction); empty when they cannot be read."""
    try:
        headers = auth_headers(auth)
    except ConfigError:
        return []
    out = [v for k, v in headers.items() if k == "Authorization" or k not in auth.headers]
    out += [v.split(" ", 1)[1] for v in out if " " in v]
    return out


def session(auth: PrometheusAuth) -> requests.Session:
    """A requests Session that adds the credentials to every request it sends."""
    import requests
    from requests.auth import AuthBase

    class CredentialsUnreadable(requests.RequestException):
        """The token file or variable went away mid-rollout: cannot measure (not 'bad')."""

    class _Fresh(AuthBase):
        def __call__(self, r: Any) -> Any:
            try:
                r.headers.update(auth_headers(auth))
            except ConfigError as exc:
                raise CredentialsUnreadable(str(exc)) from None
            return r

    s = requests.Session()
    s.verify = verify(auth)
    if s.verify is False:
        # urllib3 warns on every request ("always" for security warnings): one line instead
        import warnings

        from urllib3.exceptions import InsecureRequestWarning

        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        log.warning("the Prometheus server's TLS certificate is not verified",
                    setting=f"{WHERE}.insecure_skip_verify")
    s.auth = _Fresh()
    return s
