"""Which failures a retry can fix: the exit code of a Job (and of `dmctl copy|sync|validate`)."""

from __future__ import annotations

from weaviate.exceptions import (
    InsufficientPermissionsError,
    UnexpectedStatusCodeError,
    WeaviateBaseError,
)

from datamigration_operator.api.job_contract import NON_RETRYABLE_EXIT_CODE
from datamigration_operator.api.reasons import COLLECTION_OWNED_BY_OTHER
from datamigration_operator.migration.mapping import MappingError
from datamigration_operator.migration.not_retryable import NotRetryableError
from datamigration_operator.migration.runs.backup import BackupError
from datamigration_operator.migration.runs.checkpoint import CheckpointError
from datamigration_operator.migration.sink.ownership import CollectionOwnedByOtherError
from datamigration_operator.migration.sink.weaviate_sink import (
    EndpointUnreachableError,
    SchemaConflictError,
    SinkError,
    TransientSinkError,
    WeaviateAuthError,
    WeaviateUnreachableError,
    refused_key_message,
)
from datamigration_operator.migration.source.snapshot import SourceError

EXIT_RETRYABLE = 1


_NOT_RETRYABLE: tuple[tuple[type[BaseException], str], ...] = (
    (CollectionOwnedByOtherError, COLLECTION_OWNED_BY_OTHER),
    (WeaviateAuthError, "WeaviateUnauthorized"),
    (InsufficientPermissionsError, "WeaviateUnauthorized"),
    (EndpointUnreachableError, "WeaviateUnreachable"),
    (NotRetryableError, "InvalidMapping"),
    (MappingError, "InvalidMapping"),
    (SchemaConflictError, "SchemaConflict"),
    (CheckpointError, "InvalidCheckpoint"),
    (SourceError, "SourceUnreadable"),
    # the backup folder's permissions, free space or storage: for a person to fix
    (BackupError, "BackupFailed"),
)
_RETRYABLE: tuple[tuple[type[BaseException], str], ...] = (
    (TransientSinkError, "WeaviateUnavailable"),
    (WeaviateUnreachableError, "WeaviateUnavailable"),
    (SinkError, "WeaviateRefused"),
    (WeaviateBaseError, "WeaviateError"),
    (OSError, "IOError"),
)


def _refused(error: BaseException) -> bool:
    """A REST call answered 401/403 (a key revoked mid-run; connect checks it first)."""
    return isinstance(error, UnexpectedStatusCodeError) and error.status_code in (401, 403)


def classify(error: BaseException) -> tuple[int, str]:
    """(exit code, reason constant) of an error that ended a run."""
    if _refused(error):
        return NON_RETRYABLE_EXIT_CODE, "WeaviateUnauthorized"
    for kind, reason in _NOT_RETRYABLE:
        if isinstance(error, kind):
            return NON_RETRYABLE_EXIT_CODE, reason
    for kind, reason in _RETRYABLE:
        if isinstance(error, kind):
            return EXIT_RETRYABLE, reason
    return EXIT_RETRYABLE, "Unexpected"


def failure_message(error: BaseException) -> str:
    """The one line that says why a run ended (the Job's termination message): the error's own
    message where it is ours, the gist where the Weaviate client's is long-winded."""
    if isinstance(error, UnexpectedStatusCodeError) and (
        _refused(error) or isinstance(error, InsufficientPermissionsError)
    ):
        body = error.error
        detail = body.get("message") if isinstance(body, dict) else body
        return refused_key_message(error.status_code, str(detail or "")[:300])
    text = str(error).strip()
    if not text:
        return type(error).__name__
    _, reason = classify(error)
    return text if reason != "Unexpected" else f"{type(error).__name__}: {text}"
