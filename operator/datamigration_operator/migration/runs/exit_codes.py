"""Which failures a retry can fix: the exit code of a Job (and of `dmctl copy|sync|validate`)."""

from __future__ import annotations

from weaviate.exceptions import WeaviateBaseError

from datamigration_operator.api.job_contract import NON_RETRYABLE_EXIT_CODE
from datamigration_operator.api.reasons import COLLECTION_OWNED_BY_OTHER
from datamigration_operator.migration.mapping import MappingError
from datamigration_operator.migration.not_retryable import NotRetryableError
from datamigration_operator.migration.runs.checkpoint import CheckpointError
from datamigration_operator.migration.sink.ownership import CollectionOwnedByOtherError
from datamigration_operator.migration.sink.weaviate_sink import (
    SchemaConflictError,
    SinkError,
    TransientSinkError,
    WeaviateUnreachableError,
)
from datamigration_operator.migration.source.snapshot import SourceError

EXIT_RETRYABLE = 1


_NOT_RETRYABLE: tuple[tuple[type[BaseException], str], ...] = (
    (CollectionOwnedByOtherError, COLLECTION_OWNED_BY_OTHER),
    (NotRetryableError, "InvalidMapping"),
    (MappingError, "InvalidMapping"),
    (SchemaConflictError, "SchemaConflict"),
    (CheckpointError, "InvalidCheckpoint"),
    (SourceError, "SourceUnreadable"),
)
_RETRYABLE: tuple[tuple[type[BaseException], str], ...] = (
    (TransientSinkError, "WeaviateUnavailable"),
    (WeaviateUnreachableError, "WeaviateUnavailable"),
    (SinkError, "WeaviateRefused"),
    (WeaviateBaseError, "WeaviateError"),
    (OSError, "IOError"),
)


def classify(error: BaseException) -> tuple[int, str]:
    """(exit code, reason constant) of an error that ended a run."""
    for kind, reason in _NOT_RETRYABLE:
        if isinstance(error, kind):
            return NON_RETRYABLE_EXIT_CODE, reason
    for kind, reason in _RETRYABLE:
        if isinstance(error, kind):
            return EXIT_RETRYABLE, reason
    return EXIT_RETRYABLE, "Unexpected"
