"""reference_integrity: each cross-reference of a flagged object against its foreign key and
what Weaviate stores (a dangling reference is stored but left out of reads)."""

from __future__ import annotations

from uuid import UUID

import pytest

from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MigrationObject,
    PropertyPlan,
    ReferencePlan,
)
from datamigration_operator.migration.runs.reference_integrity import (
    StoredReferences,
    reference_findings,
)

A1, A2, B1 = UUID(int=0xA1), UUID(int=0xA2), UUID(int=0xB1)
PLAN = CollectionPlan(
    table="books",
    collection="Book",
    key_columns=("id",),
    properties=(PropertyPlan("title", "title", "text"),),
    references=(
        ReferencePlan("author_id", "author", "authors", "Author", "TEXT"),
        ReferencePlan("editor_id", "editor", "authors", "Author", "TEXT"),
    ),
    vector_column=None,
)
ROW = {"id": "b1", "title": "T", "author_id": "a1", "editor_id": None}
NAMED_A1 = f"Author {A1} (authors TEXT 'a1')"


def _obj(author: UUID | None = None, editor: UUID | None = None) -> MigrationObject:
    references = {}
    if author is not None:
        references["author"] = (author,)
    if editor is not None:
        references["editor"] = (editor,)
    return MigrationObject(B1, {"title": "T"}, references, None)


def _findings(
    found: MigrationObject, held: set[str], existing: set[UUID] | None = None
) -> list[tuple[str, str, str]]:
    stored = StoredReferences(held, existing or set())
    return [
        (f.reference, f.problem, f.explanation)
        for f in reference_findings(PLAN, ROW, _obj(author=A1), found, stored)
    ]


def test_references_that_agree_are_no_finding() -> None:
    assert _findings(_obj(author=A1), {"author"}, {A1}) == []


def test_a_reference_to_another_object_is_wrong_and_names_both() -> None:
    assert _findings(_obj(author=A2), {"author"}, {A1}) == [
        (
            "author",
            "wrongReference",
            f"author points to Author {A2}; the foreign key names {NAMED_A1}",
        )
    ]


def test_a_reference_stored_but_left_out_of_the_read_is_dangling() -> None:
    """The foreign key's target is gone: the reference points at it."""
    assert _findings(_obj(), {"author"}) == [
        ("author", "danglingReference", f"author points to {NAMED_A1}, which is not in Weaviate")
    ]


def test_a_dangling_reference_while_the_named_object_exists_points_elsewhere() -> None:
    assert _findings(_obj(), {"author"}, {A1}) == [
        (
            "author",
            "danglingReference",
            "author points to an object not in Weaviate; the foreign key names "
            f"{NAMED_A1}, which exists",
        )
    ]


def test_no_reference_where_the_foreign_key_names_a_row_is_wrong() -> None:
    assert _findings(_obj(), set(), {A1}) == [
        ("author", "wrongReference", f"author is not set; the foreign key names {NAMED_A1}")
    ]


@pytest.mark.parametrize(
    ("found", "held", "expected"),
    [
        (
            _obj(author=A1, editor=A2),
            {"author", "editor"},
            ("editor", "wrongReference", f"editor points to Author {A2}; the foreign key is NULL"),
        ),
        (
            _obj(author=A1),
            {"author", "editor"},
            (
                "editor",
                "danglingReference",
                "editor points to an object not in Weaviate; the foreign key editor_id is NULL",
            ),
        ),
    ],
    ids=["set", "dangling"],
)
def test_a_reference_where_the_foreign_key_is_null(
    found: MigrationObject, held: set[str], expected: tuple[str, str, str]
) -> None:
    assert _findings(found, held, {A1}) == [expected]


def test_each_reference_property_is_judged_on_its_own() -> None:
    found = _obj(author=A2, editor=A1)
    assert [(r, p) for r, p, _ in _findings(found, {"author", "editor"}, {A1})] == [
        ("author", "wrongReference"),
        ("editor", "wrongReference"),
    ]


def test_more_references_stored_than_read_means_the_others_dangle() -> None:
    stored = StoredReferences({"author"}, {A1}, several={"author"})
    (finding,) = reference_findings(PLAN, ROW, _obj(author=A1), _obj(author=A1), stored)
    assert (finding.reference, finding.problem) == ("author", "danglingReference")
    assert finding.explanation == (
        f"author holds, besides {NAMED_A1}, a reference to an object not in Weaviate"
    )
