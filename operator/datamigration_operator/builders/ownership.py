"""Labels and owner references on everything the operator creates."""

from __future__ import annotations

from typing import Any

from datamigration_operator.api.names import (
    API_VERSION,
    KIND,
    LABEL_DATAMIGRATION,
    LABEL_MANAGED_BY,
    OPERATOR_NAME,
)
from datamigration_operator.api.resource import DataMigration


def managed_labels(datamigration: str) -> dict[str, str]:
    """The labels that find everything of one DataMigration (label selector)."""
    return {LABEL_MANAGED_BY: OPERATOR_NAME, LABEL_DATAMIGRATION: datamigration}


def controller_reference(dm: DataMigration) -> dict[str, Any]:
    """Makes the DataMigration the controller: garbage collection deletes what it owns, and
    blockOwnerDeletion keeps foreground deletion waiting for it."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": dm.metadata.name,
        "uid": dm.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
