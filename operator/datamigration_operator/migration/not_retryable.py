"""The one failure every part of the engine may raise without pulling in the Weaviate client."""

from __future__ import annotations


class NotRetryableError(Exception):
    """The run failed for a reason a retry cannot fix; the message says which."""


class InvalidMappingError(NotRetryableError):
    """The mapping does not fit the database (a table or column it names is missing, a name
    has no Weaviate form): the Job fails at once; dmctl calls it a usage error."""
