from __future__ import annotations

from pathlib import Path

from datamigration_sandbox.workloads.shared_port import hand_over_queued_connections


def test_turns_the_hand_over_on(tmp_path: Path) -> None:
    setting = tmp_path / "tcp_migrate_req"
    setting.write_text("0\n")
    assert hand_over_queued_connections(setting)
    assert setting.read_text() == "1\n"


def test_a_setting_it_may_not_change_is_reported_not_fatal(tmp_path: Path) -> None:
    assert not hand_over_queued_connections(tmp_path / "missing" / "tcp_migrate_req")
