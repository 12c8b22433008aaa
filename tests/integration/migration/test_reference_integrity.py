"""Validation checks every cross-reference on the emulated Weaviate: a dangling reference and a
wrong one are counted as such (not as mismatched rows), sampled by object and property, fail
the report and make `dmctl validate` exit with the differences-found code; sync repairs what
SQLite still names."""

from __future__ import annotations

from pathlib import Path

from datamigration_operator.cli.exit_status import EXIT_DIFFERENCES
from datamigration_operator.migration.runs.run import RunSettings
from datamigration_operator.migration.sink.weaviate_sink import SinkSettings
from tests.integration.migration.conftest import (
    RunningWeaviate,
    cli_env,
    run_copy,
    run_diff,
)
from tests.integration.migration.reference_integrity_case import (
    COLLECTIONS,
    DANGLING_BOOK,
    GHOST,
    GONE_AUTHOR,
    NAMESPACE,
    NULL_BOOK,
    SECOND_BOOK,
    WRONG_AUTHOR,
    WRONG_BOOK,
    break_references,
    dmctl_validate,
    hide_dangling_references,
    make_library,
    uuid_of,
)


def _settings(db: Path, scratch: Path) -> RunSettings:
    return RunSettings(
        sqlite_path=db,
        snapshot=True,
        scratch_dir=scratch,
        collections=COLLECTIONS,
        namespace=NAMESPACE,
        sink=SinkSettings(batch_size=50, base_delay=0.01, max_delay=0.2),
        job="test-job",
    )


def _copied(weaviate: RunningWeaviate, tmp_path: Path) -> tuple[Path, RunSettings]:
    db = tmp_path / "library.db"
    make_library(db)
    run = _settings(db, tmp_path / "scratch")
    copied, _ = run_copy(weaviate, run)
    assert (copied.written, copied.failed_count) == (8, 0)
    return db, run


def test_a_clean_copy_has_no_reference_problems(weaviate: RunningWeaviate, tmp_path: Path) -> None:
    db, run = _copied(weaviate, tmp_path)
    diff, reporter = run_diff(weaviate, run, repair=False)
    assert (diff.checked, diff.differences) == (8, 0)
    report = reporter.validations[-1]
    assert (report.dangling_references, report.wrong_references, report.passed) == (0, 0, True)
    code, summary = dmctl_validate(db, weaviate.url, weaviate.grpc_port, cli_env())
    assert code == 0, summary
    assert (summary["danglingReferences"], summary["wrongReferences"]) == (0, 0)


def test_validate_counts_and_names_a_dangling_and_a_wrong_reference(
    weaviate: RunningWeaviate, tmp_path: Path
) -> None:
    db, run = _copied(weaviate, tmp_path)
    with weaviate.client() as client:
        break_references(db, client)

    diff, reporter = run_diff(weaviate, run, repair=False)

    assert (diff.missing, diff.extra, diff.mismatched) == (0, 0, 0)  # every row is equal
    assert (diff.dangling_references, diff.wrong_references) == (1, 1)
    assert diff.differences == 2
    samples = {s.problem: s for s in diff.samples}
    dangling, wrong = samples["danglingReference"], samples["wrongReference"]
    assert (dangling.table, dangling.key_text, dangling.fields) == (
        "books",
        f'["{DANGLING_BOOK}"]',
        ("author_id",),
    )
    gone = uuid_of("authors", GONE_AUTHOR)
    assert dangling.detail == (
        f"author_id points to Author {gone} (authors TEXT '{GONE_AUTHOR}'), "
        "which is not in Weaviate"
    )
    assert (wrong.table, wrong.key_text, wrong.fields) == (
        "books",
        f'["{WRONG_BOOK}"]',
        ("author_id",),
    )
    assert wrong.detail == (
        f"author_id points to Author {uuid_of('authors', WRONG_AUTHOR)}; the foreign key names "
        f"Author {uuid_of('authors', 'a2')} (authors TEXT 'a2')"
    )
    report = reporter.validations[-1]
    assert report.passed is False
    assert (report.dangling_references, report.wrong_references, report.differences) == (1, 1, 2)
    assert {(s.problem, s.key) for s in report.samples} == {
        ("danglingReference", f'["{DANGLING_BOOK}"]'),
        ("wrongReference", f'["{WRONG_BOOK}"]'),
    }
    (lines, summary) = reporter.reports[-1]  # the report ConfigMap
    assert "dangling references 1, wrong references 1" in summary
    assert f'books/["{DANGLING_BOOK}"]: danglingReference {dangling.detail}' in lines
    assert report.report_ref == "report"

    code, summary = dmctl_validate(db, weaviate.url, weaviate.grpc_port, cli_env())
    assert code == EXIT_DIFFERENCES, summary
    assert (summary["danglingReferences"], summary["wrongReferences"]) == (1, 1)
    assert {(s["problem"], s["key"]) for s in summary["samples"]} == {
        ("danglingReference", f'["{DANGLING_BOOK}"]'),
        ("wrongReference", f'["{WRONG_BOOK}"]'),
    }


def test_a_reference_set_where_the_foreign_key_is_null_and_a_missing_one_are_wrong(
    weaviate: RunningWeaviate, tmp_path: Path
) -> None:
    """b5 has no author but gets one; b1's reference is removed though its row names a1."""
    _, run = _copied(weaviate, tmp_path)
    with weaviate.client() as client:
        books = client.collections.get("Book")
        books.data.reference_add(
            from_uuid=uuid_of("books", "b5"), from_property="author_id", to=uuid_of("authors", "a2")
        )
        books.data.reference_replace(
            from_uuid=uuid_of("books", "b1"), from_property="author_id", to=[]
        )

    diff, _ = run_diff(weaviate, run, repair=False)

    assert (diff.mismatched, diff.dangling_references, diff.wrong_references) == (0, 0, 2)
    details = {s.key_text: s.detail for s in diff.samples}
    assert details['["b5"]'] == (
        f"author_id points to Author {uuid_of('authors', 'a2')}; the foreign key is NULL"
    )
    assert details['["b1"]'] == (
        f"author_id is not set; the foreign key names Author {uuid_of('authors', 'a1')} "
        "(authors TEXT 'a1')"
    )


def test_a_row_change_and_a_wrong_reference_on_one_object_count_both(
    weaviate: RunningWeaviate, tmp_path: Path
) -> None:
    _, run = _copied(weaviate, tmp_path)
    with weaviate.client() as client:
        books = client.collections.get("Book")
        books.data.update(uuid=uuid_of("books", "b4"), properties={"title": "tampered"})
        books.data.reference_replace(
            from_uuid=uuid_of("books", "b4"), from_property="author_id", to=uuid_of("authors", "a2")
        )

    diff, _ = run_diff(weaviate, run, repair=False)

    assert (diff.mismatched, diff.wrong_references, diff.differences) == (1, 1, 2)
    by_problem = {s.problem: s for s in diff.samples}
    assert by_problem["mismatched"].fields == ("title",)
    assert by_problem["wrongReference"].fields == ("author_id",)


def test_sync_repairs_a_wrong_reference(weaviate: RunningWeaviate, tmp_path: Path) -> None:
    db, run = _copied(weaviate, tmp_path)
    with weaviate.client() as client:
        break_references(db, client)
    synced, _ = run_diff(weaviate, run, repair=True)
    # the wrong reference is repointed; the dangling one names a row SQLite no longer has,
    # which Weaviate refuses to write: the sync reports it rather than dropping it
    assert [f.key for f in synced.failed] == [(DANGLING_BOOK,)]
    again, _ = run_diff(weaviate, run, repair=False)
    assert (again.wrong_references, again.dangling_references) == (0, 1)


def test_dangling_references_a_read_leaves_out_are_found_by_their_stored_count(
    weaviate: RunningWeaviate, tmp_path: Path
) -> None:
    """Every object still hashes equal to its row: the sweep finds them."""
    _, run = _copied(weaviate, tmp_path)
    with weaviate.client() as client:
        hide_dangling_references(client)

    diff, _ = run_diff(weaviate, run, repair=False)

    assert (diff.missing, diff.extra, diff.mismatched) == (0, 0, 0)
    assert (diff.dangling_references, diff.wrong_references) == (2, 0)
    details = {s.key_text: s.detail for s in diff.samples}
    assert details[f'["{NULL_BOOK}"]'] == (
        "author_id points to an object not in Weaviate; the foreign key author_id is NULL"
    )
    assert details[f'["{SECOND_BOOK}"]'] == (
        f"author_id holds, besides Author {uuid_of('authors', 'a1')} (authors TEXT 'a1'), "
        "a reference to an object not in Weaviate"
    )
    assert str(GHOST) not in weaviate.server.database.get("Author").objects
