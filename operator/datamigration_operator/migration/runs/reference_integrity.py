"""Reference integrity (pure): does each cross-reference of an object point to an object that
exists and agree with the row's foreign key?

Weaviate resolves references when it reads them and leaves out one whose target is gone, so
the reference ids validation reads (with the content hash, in the same cursor pass) are the
live ones. A reference that differs from the foreign key therefore makes the content hashes
differ, and the first pass flags the object. What a read cannot show is whether a reference it
left out is dangling or was never set; for the few flagged objects the Weaviate side answers
that in batches (TargetReader.holding_references: the stored reference count, which counts a
dangling reference too, and TargetReader.existing: whether the object the foreign key names is
there). This module turns those answers into findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from datamigration_operator.migration.mapping import CollectionPlan, MigrationObject, ReferencePlan
from datamigration_operator.migration.mapping.values import describe

ReferenceProblem = Literal["danglingReference", "wrongReference"]
REFERENCE_PROBLEMS: tuple[ReferenceProblem, ...] = ("danglingReference", "wrongReference")


@dataclass(frozen=True)
class ReferenceFinding:
    reference: str
    """The reference property."""
    problem: ReferenceProblem
    explanation: str
    """Names the property, the object the foreign key names and what Weaviate holds."""


@dataclass(frozen=True)
class StoredReferences:
    """What the Weaviate side says beyond an object's resolved references."""

    held: Set[str]
    """Reference properties holding at least one stored reference, dangling ones included."""
    existing_targets: Set[UUID]
    """Of the objects the row's foreign keys name, those Weaviate holds."""
    several: Set[str] = frozenset()
    """Reference properties holding more than one stored reference."""


def reference_findings(
    plan: CollectionPlan,
    row: Mapping[str, object],
    wanted: MigrationObject,
    found: MigrationObject,
    stored: StoredReferences,
) -> list[ReferenceFinding]:
    """One finding per reference property that does not agree: `wanted` is the object the
    row maps to, `found` the object as Weaviate reads it (references resolved)."""
    findings: list[ReferenceFinding] = []
    for ref in plan.references:
        expected = wanted.references.get(ref.name, ())
        resolved = found.references.get(ref.name, ())
        holds = ref.name in stored.held
        names = _named_by(ref, row, expected)
        if resolved:
            if tuple(resolved) == tuple(expected):
                if ref.name in stored.several:  # more stored than read: the rest dangle
                    findings.append(
                        ReferenceFinding(
                            ref.name,
                            "danglingReference",
                            f"{ref.name} holds, besides {names}, a reference to an object not "
                            "in Weaviate",
                        )
                    )
                continue
            points = ", ".join(f"{ref.target_collection} {target}" for target in resolved)
            why = f"names {names}" if expected else "is NULL"
            findings.append(
                ReferenceFinding(
                    ref.name,
                    "wrongReference",
                    f"{ref.name} points to {points}; the foreign key {why}",
                )
            )
        elif holds:  # stored, yet the read left it out: its target is gone
            if not expected:
                why = f"an object not in Weaviate; the foreign key {ref.column} is NULL"
            elif expected[0] in stored.existing_targets:
                why = f"an object not in Weaviate; the foreign key names {names}, which exists"
            else:
                why = f"{names}, which is not in Weaviate"
            findings.append(
                ReferenceFinding(ref.name, "danglingReference", f"{ref.name} points to {why}")
            )
        elif expected:
            findings.append(
                ReferenceFinding(
                    ref.name,
                    "wrongReference",
                    f"{ref.name} is not set; the foreign key names {names}",
                )
            )
    return findings


def _named_by(ref: ReferencePlan, row: Mapping[str, object], expected: tuple[UUID, ...]) -> str:
    """The object a foreign key names, by target collection, id and the key as in SQLite."""
    if not expected:
        return "nothing"
    value = row.get(ref.column)
    return f"{ref.target_collection} {expected[0]} ({ref.target_table} {describe(value)})"
