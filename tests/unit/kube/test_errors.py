"""Which API failures a handler retries, and which it reports as permanent."""

from __future__ import annotations

import kopf
import pytest

from datamigration_operator.kube.errors import (
    CONFLICT_RETRY_DELAY,
    FORBIDDEN_RETRY_DELAY,
    RETRY_DELAY,
    KubeApiError,
    KubeConnectionError,
    handler_error,
)


@pytest.mark.parametrize("code", [400, 422])
def test_invalid_requests_are_permanent_with_the_status_message(code: int) -> None:
    error = handler_error(KubeApiError(code, "Invalid", 'spec.phase: Invalid value: "switch"'))
    assert isinstance(error, kopf.PermanentError)
    assert 'spec.phase: Invalid value: "switch"' in str(error)


@pytest.mark.parametrize(
    ("code", "reason", "delay"),
    [
        (409, "Conflict", CONFLICT_RETRY_DELAY),
        (404, "NotFound", RETRY_DELAY),
        (403, "Forbidden", FORBIDDEN_RETRY_DELAY),
        (500, "InternalError", RETRY_DELAY),
        (503, "ServiceUnavailable", RETRY_DELAY),
        (504, "Timeout", RETRY_DELAY),
    ],
)
def test_transient_failures_are_retried(code: int, reason: str, delay: float) -> None:
    error = handler_error(KubeApiError(code, reason, "try later"))
    assert isinstance(error, kopf.TemporaryError)
    assert error.delay == delay


def test_too_many_requests_waits_retry_after() -> None:
    error = handler_error(KubeApiError(429, "TooManyRequests", "slow down", retry_after=7))
    assert isinstance(error, kopf.TemporaryError)
    assert error.delay == 7
    assert handler_error(KubeApiError(429, "TooManyRequests", "x")).delay == RETRY_DELAY


def test_connection_errors_are_retried() -> None:
    error = handler_error(KubeConnectionError("GET /api: ClientConnectorError: refused"))
    assert isinstance(error, kopf.TemporaryError)
    assert "unreachable" in str(error)


def test_already_exists_is_told_apart_from_a_conflict() -> None:
    assert KubeApiError(409, "AlreadyExists", "x").already_exists
    assert not KubeApiError(409, "Conflict", "x").already_exists
    assert KubeApiError(404, "NotFound", "x").not_found
