"""The error a Weaviate endpoint answers with: an HTTP status and a message.

REST renders it as `{"error": [{"message": ...}]}`; gRPC maps it to a status code.
"""

from __future__ import annotations


class WeaviateError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def unprocessable(message: str) -> WeaviateError:
    return WeaviateError(422, message)


def not_found(message: str) -> WeaviateError:
    return WeaviateError(404, message)
