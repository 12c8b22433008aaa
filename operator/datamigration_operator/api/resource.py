"""The DataMigration object as the API server returns it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from datamigration_operator.api.model_base import StatusModel
from datamigration_operator.api.spec import DataMigrationSpec
from datamigration_operator.api.status import DataMigrationStatus


class ObjectMeta(BaseModel):
    """The metadata fields the operator reads; the API server owns the rest."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )

    name: str
    namespace: str = "default"
    uid: str = ""
    generation: int = 1
    creation_timestamp: datetime | None = None


class DataMigration(StatusModel):
    """A DataMigration resource."""

    api_version: Literal["migrations.gremlins.ai/v1alpha1"] = "migrations.gremlins.ai/v1alpha1"
    kind: Literal["DataMigration"] = "DataMigration"
    metadata: ObjectMeta
    spec: DataMigrationSpec
    status: DataMigrationStatus = Field(default_factory=DataMigrationStatus)

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> Self:
        """Parses an object from the API server (a JSON-decoded dict); `status: null` or a
        missing status both mean "not reconciled yet"."""
        data = dict(obj)
        if data.get("status") is None:
            data.pop("status", None)
        return cls.model_validate(data)
