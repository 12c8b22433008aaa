"""The one failure every part of the engine may raise without pulling in the Weaviate client."""

from __future__ import annotations


class NotRetryableError(Exception):
    """The run failed for a reason a retry cannot fix; the message says which."""
