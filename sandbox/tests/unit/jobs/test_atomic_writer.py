"""The kubelet's atomic layout: timestamped payload folder, `..data` link, key links."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from datamigration_sandbox.jobs.atomic_writer import (
    DATA_LINK,
    FileProjection,
    PayloadError,
    current_payload,
    is_projected,
    write_payload,
)


def files(**contents: str) -> dict[str, FileProjection]:
    return {key: FileProjection(value.encode(), 0o644) for key, value in contents.items()}


def payload_dirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("..2"))


def test_first_write_builds_the_layout(tmp_path: Path) -> None:
    assert write_payload(tmp_path, files(migration_mode="sqlite_only", other="x"))

    target = os.readlink(tmp_path / DATA_LINK)
    assert payload_dirs(tmp_path) == [target]
    assert os.readlink(tmp_path / "migration_mode") == "..data/migration_mode"
    assert (tmp_path / "migration_mode").read_text() == "sqlite_only"
    assert (tmp_path / target / "other").stat().st_mode & 0o777 == 0o644
    assert is_projected(tmp_path)


def test_update_swaps_data_and_removes_the_old_payload(tmp_path: Path) -> None:
    write_payload(tmp_path, files(migration_mode="sqlite_only", gone="x"))
    first = os.readlink(tmp_path / DATA_LINK)

    assert write_payload(tmp_path, files(migration_mode="dual_write"))

    second = os.readlink(tmp_path / DATA_LINK)
    assert second != first
    assert payload_dirs(tmp_path) == [second]
    assert (tmp_path / "migration_mode").read_text() == "dual_write"
    assert not os.path.lexists(tmp_path / "gone")


def test_same_payload_writes_nothing(tmp_path: Path) -> None:
    write_payload(tmp_path, files(a="1"))
    before = os.readlink(tmp_path / DATA_LINK)

    assert not write_payload(tmp_path, files(a="1"))
    assert os.readlink(tmp_path / DATA_LINK) == before


def test_mode_change_alone_is_an_update(tmp_path: Path) -> None:
    write_payload(tmp_path, files(a="1"))

    assert write_payload(tmp_path, {"a": FileProjection(b"1", 0o400)})
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o400


def test_nested_paths_link_their_top_folder(tmp_path: Path) -> None:
    write_payload(tmp_path, files(**{"conf/mode": "x"}))

    assert os.readlink(tmp_path / "conf") == "..data/conf"
    assert (tmp_path / "conf" / "mode").read_text() == "x"
    assert current_payload(tmp_path) == files(**{"conf/mode": "x"})


@pytest.mark.parametrize("path", ["../escape", "/abs", "a/../b", "..data", ""])
def test_paths_that_escape_or_collide_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(PayloadError):
        write_payload(tmp_path / "v", files(**{path: "x"}))
    assert not (tmp_path / "v").exists()


def test_a_reader_sees_whole_payloads_only(tmp_path: Path) -> None:
    """Without the rename swap (truncate and write in place) a reader would see empty or
    partial contents; through the key link it only ever sees complete values."""
    values = [letter * 100_000 for letter in "abcdefghij"]
    write_payload(tmp_path, files(key=values[0]))
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add((tmp_path / "key").read_text())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(5):
            for value in values:
                write_payload(tmp_path, files(key=value))
    finally:
        stop.set()
        reader.join()

    assert seen <= set(values)
