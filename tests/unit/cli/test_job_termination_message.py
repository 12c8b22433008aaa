"""`dmctl job`: a run that fails writes one line saying why to its termination message file
(never the API key), which the kubelet puts in the pod's status for the operator to show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from weaviate.exceptions import UnexpectedStatusCodeError

from datamigration_operator.api.job_contract import (
    API_KEY_ENV,
    CONFIG_ENV,
    NON_RETRYABLE_EXIT_CODE,
    TERMINATION_LOG_ENV,
)
from datamigration_operator.cli import job as job_cli
from datamigration_operator.migration.runs.backup import BackupError
from datamigration_operator.migration.runs.exit_codes import classify, failure_message
from datamigration_operator.migration.sink.weaviate_sink import WeaviateAuthError
from tests.unit.cli.test_job_connect import config

KEY = "sk-test-5d0e9a"


class Client:
    def close(self) -> None:
        pass


class Reporter:
    """Stands in for MigrationReporter: these runs fail before they report anything."""

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *_: object) -> None:
        pass


@pytest.fixture
def termination_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "termination-log"
    monkeypatch.setenv(TERMINATION_LOG_ENV, str(path))
    monkeypatch.setenv(API_KEY_ENV, KEY)
    monkeypatch.setattr(job_cli, "MigrationReporter", lambda ref: Reporter())
    return path


def _configure(monkeypatch: pytest.MonkeyPatch, kind: str, sqlite: Path) -> None:
    raw = config(kind)
    source = raw.source.model_copy(update={"path": str(sqlite)})
    monkeypatch.setenv(CONFIG_ENV, raw.model_copy(update={"source": source}).model_dump_json())


def test_a_missing_sqlite_file_is_said_in_one_line(
    termination_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "missing.db"
    _configure(monkeypatch, "copy", missing)
    monkeypatch.setattr(job_cli, "connect", lambda target, key: Client())
    assert job_cli.run_job("copy") == NON_RETRYABLE_EXIT_CODE
    assert termination_log.read_text() == f"SQLite file {missing} does not exist\n"


def test_a_refused_key_is_said_without_the_key(
    termination_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(monkeypatch, "copy", tmp_path / "app.db")

    def refuse(target: Any, key: str | None) -> Any:
        # even should Weaviate ever quote the key back, it does not leave the pod
        raise WeaviateAuthError(f"Weaviate refused the API key (HTTP 401: bad key {key})")

    monkeypatch.setattr(job_cli, "connect", refuse)
    assert job_cli.run_job("copy") == NON_RETRYABLE_EXIT_CODE
    written = termination_log.read_text()
    assert written.startswith("Weaviate refused the API key (HTTP 401")
    assert KEY not in written
    assert "[redacted]" in written


def test_an_invalid_configuration_is_said_too(
    termination_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, "{not json")
    assert job_cli.run_job("copy") == NON_RETRYABLE_EXIT_CODE
    assert "is not a valid job configuration" in termination_log.read_text()
    assert len(termination_log.read_text().splitlines()) == 1


def test_outside_a_pod_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TERMINATION_LOG_ENV, raising=False)
    job_cli.write_termination_message("anything")  # no variable: no file, no error
    monkeypatch.setenv(TERMINATION_LOG_ENV, str(tmp_path / "no" / "such" / "dir" / "log"))
    job_cli.write_termination_message("anything")  # unwritable: a warning, not a crash


def _http_error(status: int, message: str) -> UnexpectedStatusCodeError:
    import httpx

    response = httpx.Response(status, json={"code": status, "message": message})
    return UnexpectedStatusCodeError("Get schema", response)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_mid_run_fails_at_once_with_the_same_words(status: int) -> None:
    """connect checks the key first; a key revoked mid-run fails a REST call with 401/403."""
    error = _http_error(status, "unauthorized: invalid api key")
    assert classify(error) == (NON_RETRYABLE_EXIT_CODE, "WeaviateUnauthorized")
    assert failure_message(error) == (
        f"Weaviate refused the API key (HTTP {status}: unauthorized: invalid api key)"
    )
    assert classify(WeaviateAuthError("x")) == (NON_RETRYABLE_EXIT_CODE, "WeaviateUnauthorized")


def test_other_failures_keep_their_message_and_retryability() -> None:
    assert classify(_http_error(500, "boom"))[0] == 1
    assert failure_message(KeyError("table")) == "KeyError: 'table'"
    assert failure_message(ValueError("")) == "ValueError"


def test_a_backup_that_cannot_be_kept_fails_the_job_at_once_saying_where() -> None:
    """A retry cannot fix the folder's permissions or free space: exit 42, the folder named."""
    error = BackupError("cannot keep the SQLite backup in chat-data:.datamigration/backups/x")
    assert classify(error) == (NON_RETRYABLE_EXIT_CODE, "BackupFailed")
    assert failure_message(error) == str(error)
