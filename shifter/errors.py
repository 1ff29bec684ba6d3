"""Every error shifter raises on purpose, each carrying the exit code the CLI returns.

    ShifterError (1: internal error)
    ├── InvalidInput (2: bad flags, config or cluster objects; nothing changed)
    │   └── ConfigError (2: a config field is wrong; names the field path)
    ├── RolledBack (3: a new colour broke an SLO or a smoke check; traffic on the old colour)
    ├── Unavailable (5: the cluster or Prometheus could not be reached)
    │   ├── KubeUnavailable
    │   └── PrometheusUnavailable
    ├── LockHeld (6: another run holds the release's lock)
    └── KubeError (1 unless a subclass says otherwise: the API server said no)
        ├── NotFound (2 before anything changed)
        ├── Forbidden (2: RBAC denies a verb; names verb and resource)
        └── Conflict (409; retried by the caller, fatal only after retries)

A rollout's own outcome (0 promoted, 3 rolled back, 4 aborted, 5 failed) is the exit code of
its final phase (``shifter.state.Phase.exit_code``), not an exception. ``LockLost`` (6, in
``shifter.lease``), ``RevertFailed`` (1, ``shifter.retry``) and ``SmokeCheckFailed``
(3, ``shifter.smoke``) live beside the code that raises them.

Third-party errors (``ApiException``, ``httpx.HTTPError``, Prometheus client errors) are
translated at the module that calls the library, raising ``from exc``; nothing above those
modules catches a library's exception type.
"""

from __future__ import annotations


class ShifterError(Exception):
    """Base of every deliberate error; ``exit_code`` is what the CLI returns. Its text never
    shows a secret: ``str()`` goes through ``shifter.redact.scrub_text``."""

    exit_code = 1

    def __str__(self) -> str:
        from shifter.redact import scrub_text

        return scrub_text(super().__str__())


class InvalidInput(ShifterError):
    """Input (flags, file, cluster objects) cannot be used; nothing was changed."""

    exit_code = 2


class ConfigError(InvalidInput):
    """A configuration field is wrong: ``field`` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class RolledBack(ShifterError):
    """The new colour failed a check; traffic was put back on the old colour."""

    exit_code = 3


class Unavailable(ShifterError):
    """A dependency could not be reached."""

    exit_code = 5


class KubeUnavailable(Unavailable):
    """The Kubernetes API could not be reached or kept failing."""


class PrometheusUnavailable(Unavailable):
    """Prometheus could not be reached or kept failing."""


class LockHeld(ShifterError):
    """Another live run holds the release's lock."""

    exit_code = 6


class KubeError(ShifterError):
    """The API server answered with an error ``status`` (HTTP code) and ``reason``."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class NotFound(KubeError):
    """The object does not exist (404)."""

    exit_code = 2


class Forbidden(KubeError):
    """RBAC denied the request (403); the message names verb and resource."""

    exit_code = 2


class Conflict(KubeError):
    """The object changed since it was read (409), or already exists."""
