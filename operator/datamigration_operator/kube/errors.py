"""Kubernetes API failures, and what a kopf handler should do about each."""

from __future__ import annotations

from typing import Final

import kopf

# Seconds before kopf retries a handler after a transient failure.
RETRY_DELAY: Final = 2.0
CONFLICT_RETRY_DELAY: Final = 0.2
FORBIDDEN_RETRY_DELAY: Final = 30.0


class KubeError(Exception):
    """Any failure to get an answer from the API server."""


class KubeConnectionError(KubeError):
    """The request did not get an HTTP response (refused, reset, timed out, TLS)."""


class KubeApiError(KubeError):
    """The API server answered with an error Status."""

    def __init__(
        self, code: int, reason: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.retry_after = retry_after

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def already_exists(self) -> bool:
        return self.code == 409 and self.reason == "AlreadyExists"


def handler_error(error: KubeError) -> kopf.TemporaryError | kopf.PermanentError:
    """The kopf outcome of a failed API call.

    Retried: connection errors, 409 Conflict (a stale read: observe again), 429 (after
    Retry-After), 5xx, 404 (something we read vanished mid-reconcile), 403 (RBAC can be fixed
    while we wait). Permanent: 400 and 422, which a retry of the same request cannot fix."""
    if isinstance(error, KubeApiError):
        code = error.code
        if code in (400, 422):
            return kopf.PermanentError(f"the API server refused the request: {error.message}")
        if code == 409:
            return kopf.TemporaryError(str(error), delay=error.retry_after or CONFLICT_RETRY_DELAY)
        if code == 429:
            return kopf.TemporaryError(str(error), delay=error.retry_after or RETRY_DELAY)
        if code == 403:
            return kopf.TemporaryError(str(error), delay=FORBIDDEN_RETRY_DELAY)
        return kopf.TemporaryError(str(error), delay=RETRY_DELAY)
    return kopf.TemporaryError(f"Kubernetes API unreachable: {error}", delay=RETRY_DELAY)
