"""Kubernetes `Status` error objects, shaped as a real API server answers them."""

from __future__ import annotations

from typing import Any

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """An error answered to the client as a `Status` object."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        """The `Status` object for the response body."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(plural: str, group: str) -> str:
    """`ingresses.networking.k8s.io`, or `services` for the core group."""
    return f"{plural}.{group}" if group else plural


def _details(plural: str, group: str, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": plural}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    return details


def details(plural: str, group: str, name: str) -> dict[str, Any]:
    return _details(plural, group, name)


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(404, f'{qualified(plural, group)} "{name}" not found',
                    details=_details(plural, group, name))


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(409, f'{qualified(plural, group)} "{name}" already exists',
                    reason="AlreadyExists", details=_details(plural, group, name))


def conflict(plural: str, group: str, name: str) -> ApiError:
    msg = (f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": the object '
           "has been modified; please apply your changes to the latest version and try again")
    return ApiError(409, msg, details=_details(plural, group, name))


def forbidden(user: str, verb: str, plural: str, group: str, name: str, namespace: str,
              subresource: str = "") -> ApiError:
    res = f"{plural}/{subresource}" if subresource else plural
    who = f'{qualified(plural, group)} "{name}"' if name else qualified(plural, group)
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    msg = (f'{who} is forbidden: User "{user}" cannot {verb} resource "{res}" '
           f'in API group "{group}"{where}')
    return ApiError(403, msg, details=_details(plural, group, name))


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized")


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid: `Kind "name" is invalid: field: message, ...`."""
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    text = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": causes}
    if group:
        details["group"] = group
    return ApiError(422, f'{kind} "{name}" is invalid: {text}', details=details)


def invalid_kind(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 from NewInvalid(GroupKind): `Deployment.apps "x" is invalid: ...`."""
    err = invalid(f"{kind}.{group}" if group else kind, group, name, causes)
    if err.details is not None:
        err.details["kind"] = kind
    return err


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    msg = ("the body of the request was in an unknown format - accepted media types include: "
           + ", ".join(accepted))
    return ApiError(415, msg)


def too_many_requests(retry_after: int = 1) -> ApiError:
    return ApiError(429, "Too many requests, please try again later.",
                    details={"retryAfterSeconds": retry_after},
                    headers={"Retry-After": str(retry_after)})


def internal(message: str) -> ApiError:
    return ApiError(500, f"Internal error occurred: {message}",
                    details={"causes": [{"message": message}]})


def unavailable(message: str = "the server is currently unable to handle the request") -> ApiError:
    return ApiError(503, message)


def method_not_allowed() -> ApiError:
    return ApiError(405, "the server does not allow this method on the requested resource")
