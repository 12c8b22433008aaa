"""What `dmctl copy` shows while it runs: on a terminal the progress bar of `dmctl watch` (percent,
rows, rows/s, time left), elsewhere a line per progress report, with --json nothing."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from datamigration_operator.api.status import Checkpoint, Progress
from datamigration_operator.cli import migrate
from datamigration_operator.cli.migrate import LocalReporter, live_bar
from datamigration_operator.cli.progress_bar import RowsBar


def _progress(done: int, rate: float, seconds_left: int) -> Progress:
    now = datetime.now(UTC).replace(microsecond=0)
    return Progress(
        table="messages",
        rows_total=1000,
        rows_done=done,
        percent=done * 100 // 1000,
        rows_per_second=rate,
        eta=now + timedelta(seconds=seconds_left),
        updated_at=now,
    )


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=120, color_system=None), out


def test_on_a_terminal_copy_shows_the_watch_bar_with_rows_rate_and_time_left() -> None:
    console, out = _console(terminal=True)
    with RowsBar(console, "copy") as bar:
        reporter = LocalReporter(None, quiet=False, bar=bar)
        reporter.publish_progress(_progress(400, 120.0, 65))
    shown = out.getvalue()
    assert "copy messages" in shown
    assert "40%" in shown
    assert "400/1000 rows" in shown
    assert "120 rows/s" in shown
    assert "eta 0:01:0" in shown  # 0:01:05, or :04 when a second passed meanwhile


def test_without_a_terminal_or_with_json_there_is_no_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console, out = _console(terminal=False)
    monkeypatch.setattr(migrate, "console", console)
    with live_bar(as_json=False) as bar:
        assert bar is None
        LocalReporter(None, quiet=False, bar=bar).publish_progress(_progress(400, 120.0, 65))
    assert out.getvalue() == "messages 400/1000 rows (40%), 120.0 rows/s\n"

    terminal, shown = _console(terminal=True)
    monkeypatch.setattr(migrate, "console", terminal)
    with live_bar(as_json=True) as bar:
        assert bar is None
        LocalReporter(None, quiet=True, bar=bar).publish_progress(_progress(400, 120.0, 65))
    assert shown.getvalue() == ""
    with live_bar(as_json=False) as bar:
        assert isinstance(bar, RowsBar)


def test_the_checkpoint_is_saved_while_the_bar_shows(tmp_path: Path) -> None:
    console, _ = _console(terminal=True)
    path = tmp_path / "copy.ckpt"
    checkpoint = Checkpoint(table="messages", last_key=400)
    progress = _progress(400, 120.0, 65).model_copy(update={"checkpoint": checkpoint})
    with RowsBar(console, "copy") as bar:
        LocalReporter(path, quiet=False, bar=bar).publish_progress(progress)
    assert LocalReporter(path, quiet=True).load_checkpoint() == checkpoint
