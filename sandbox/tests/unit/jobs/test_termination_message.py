"""The kubelet's termination message: the file the container wrote at its
terminationMessagePath, else (FallbackToLogsOnError, a failed container) the tail of its log."""

from __future__ import annotations

from pathlib import Path

from datamigration_sandbox.jobs.pod_volumes import container_mounts
from datamigration_sandbox.jobs.termination_message import (
    FALLBACK_LOG_BYTES,
    FALLBACK_LOG_LINES,
    MAX_MESSAGE_BYTES,
    termination_file,
    termination_message,
)

FALLBACK = {"terminationMessagePolicy": "FallbackToLogsOnError"}


def test_the_path_maps_to_a_fresh_file_per_container(tmp_path: Path) -> None:
    file = termination_file(tmp_path, "job")
    file.parent.mkdir(parents=True)
    file.write_text("left from the last run")
    container = {"terminationMessagePath": "/dev/termination-log"}
    table = container_mounts(container, {}, None, file)
    assert table.rewrite("/dev/termination-log") == str(file)
    assert table.rewrite('{"log": "/dev/termination-log"}') == f'{{"log": "{file}"}}'
    assert file.read_text() == ""
    # the default path when the pod spec names none (the API server's default)
    assert container_mounts({}, {}, None, file).rewrite("/dev/termination-log") == str(file)


def test_what_the_container_wrote_is_the_message_then_the_file_is_fresh(tmp_path: Path) -> None:
    file, log = tmp_path / "msg", tmp_path / "log"
    file.write_text("SQLite file /data/missing.db does not exist\n")
    log.write_text("some log\n")
    message = termination_message(FALLBACK, file, 42, log)
    assert message == "SQLite file /data/missing.db does not exist\n"
    assert file.read_text() == ""  # a restarted container does not repeat the last one's words
    file.write_bytes(b"x" * (MAX_MESSAGE_BYTES + 10))
    assert len(termination_message({}, file, 1, log) or "") == MAX_MESSAGE_BYTES


def test_the_log_tail_stands_in_only_for_a_failed_container_that_said_nothing(
    tmp_path: Path,
) -> None:
    file, log = tmp_path / "msg", tmp_path / "log"
    file.write_text("")
    log.write_text("".join(f"line {i}\n" for i in range(200)))
    tail = termination_message(FALLBACK, file, 1, log) or ""
    assert tail.endswith("line 199")
    assert len(tail.splitlines()) <= FALLBACK_LOG_LINES
    assert len(tail.encode()) <= FALLBACK_LOG_BYTES
    assert termination_message(FALLBACK, file, 0, log) is None  # succeeded: no fallback
    assert termination_message({}, file, 1, log) is None  # policy File: no fallback
    assert termination_message(FALLBACK, tmp_path / "gone", 1, tmp_path / "no-log") is None
