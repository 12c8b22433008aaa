"""Shared pydantic configuration: camelCase JSON, strict types, immutable values."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

DNS_LABEL_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

DnsLabel = Annotated[str, Field(pattern=DNS_LABEL_PATTERN, min_length=1, max_length=63)]
DnsSubdomain = Annotated[str, Field(pattern=DNS_SUBDOMAIN_PATTERN, min_length=1, max_length=253)]
# Kubernetes sends timestamps as RFC 3339 strings, so strict mode must still parse them.
Timestamp = Annotated[AwareDatetime, Field(strict=False)]


class SpecModel(BaseModel):
    """Spec parts: unknown fields are errors, so a typo never silently becomes a default."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        strict=True,
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )


class StatusModel(BaseModel):
    """Status parts: written by the operator and its Jobs; unknown fields are ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        strict=True,
        frozen=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )


def whole_seconds(moment: datetime) -> datetime:
    """Status timestamps have whole seconds, as metav1.Time serializes them."""
    return moment.replace(microsecond=0)
