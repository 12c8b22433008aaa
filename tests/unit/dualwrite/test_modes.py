from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from datamigration_operator.dualwrite.modes import ModeError, ModeSource


def _registry_value(registry: CollectorRegistry) -> float:
    value = registry.get_sample_value("datamigration_dualwrite_invalid_mode_total")
    return 0.0 if value is None else value


def test_env_override_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "migration_mode").write_text("dual_write")
    env = {"DATAMIGRATION_MODE": "weaviate_primary", "DATAMIGRATION_MODE_FILE": str(tmp_path)}
    source = ModeSource.from_env(env, registry=CollectorRegistry())
    assert source.current() == "weaviate_primary"


def test_reads_the_key_file_in_a_mounted_directory(tmp_path: Path) -> None:
    (tmp_path / "mode").write_text("dual_write\n")
    env = {"DATAMIGRATION_MODE_FILE": str(tmp_path), "DATAMIGRATION_MODE_KEY": "mode"}
    assert ModeSource.from_env(env, registry=CollectorRegistry()).current() == "dual_write"


def test_no_source_configured_is_a_clear_error() -> None:
    with pytest.raises(ModeError, match="DATAMIGRATION_MODE_FILE"):
        ModeSource.from_env({}, registry=CollectorRegistry())


def test_bad_override_is_rejected() -> None:
    with pytest.raises(ModeError, match="unknown migration mode 'dualwrite'"):
        ModeSource(fixed="dualwrite", registry=CollectorRegistry())


def test_change_calls_back_and_unknown_value_keeps_last_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "migration_mode"
    file.write_text("sqlite_only")
    registry = CollectorRegistry()
    source = ModeSource(path=file, registry=registry)
    seen: list[tuple[str, str]] = []
    source.on_change(lambda old, new: seen.append((old, new)))
    file.write_text("dual_write")
    assert source.refresh() == "dual_write"
    with caplog.at_level(logging.ERROR):
        file.write_text("weaviate_first")
        assert source.refresh() == "dual_write"
        assert source.refresh() == "dual_write"  # the same bad value is reported once
    assert "unknown migration mode 'weaviate_first'" in caplog.text
    assert _registry_value(registry) == 1
    file.write_text("weaviate_primary")
    source.refresh()
    assert seen == [("sqlite_only", "dual_write"), ("dual_write", "weaviate_primary")]


def test_missing_file_keeps_the_mode_and_is_reported(tmp_path: Path) -> None:
    file = tmp_path / "migration_mode"
    file.write_text("dual_write")
    registry = CollectorRegistry()
    source = ModeSource(path=file, registry=registry)
    file.unlink()
    assert source.refresh() == "dual_write"
    assert _registry_value(registry) == 1


def test_follows_a_kubelet_style_symlink_swap(tmp_path: Path) -> None:
    # kubelet: <mount>/migration_mode -> ..data/migration_mode, ..data -> ..<timestamp>
    mount = tmp_path / "config"
    mount.mkdir()
    first = mount / "..2026_1"
    first.mkdir()
    (first / "migration_mode").write_text("sqlite_only")
    (mount / "..data").symlink_to(first.name)
    (mount / "migration_mode").symlink_to("..data/migration_mode")
    source = ModeSource(path=mount, registry=CollectorRegistry(), poll_interval=0.01)
    changed = threading.Event()
    source.on_change(lambda _old, _new: changed.set())
    source.start()
    try:
        second = mount / "..2026_2"
        second.mkdir()
        (second / "migration_mode").write_text("dual_write")
        (mount / "..data_tmp").symlink_to(second.name)
        os.replace(mount / "..data_tmp", mount / "..data")
        assert changed.wait(10)
        assert source.current() == "dual_write"
    finally:
        source.stop()
