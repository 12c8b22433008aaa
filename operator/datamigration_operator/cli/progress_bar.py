"""The live progress bar of `dmctl watch` and `dmctl copy`: percent, rows, throughput and time
left, all read from a status.progress as the API holds it (camelCase; the Job's own estimate is
`eta`), so both commands show the same thing the same way."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

UNKNOWN_TIME_LEFT = "-:--:--"


def remaining(progress: Mapping[str, Any], now: datetime) -> str:
    """The Job's own estimate (status.progress.eta) as time left, e.g. 0:01:05."""
    eta = progress.get("eta")
    if not eta:
        return UNKNOWN_TIME_LEFT
    seconds = (datetime.fromisoformat(str(eta).replace("Z", "+00:00")) - now).total_seconds()
    whole = max(int(seconds), 0)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def bar_fields(progress: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """What the bar shows of one status.progress."""
    done, total = progress.get("rowsDone"), progress.get("rowsTotal")
    rate = progress.get("rowsPerSecond")
    return {
        "completed": progress.get("percent") or 0,
        "rows": f"{done}/{total} rows" if total is not None else "",
        "rate": f"{rate:.0f} rows/s" if rate else "",
        "eta": remaining(progress, now),
    }


class RowsBar:
    """A rich progress bar on `console` for as long as the `with` block runs."""

    def __init__(self, console: Console, description: str) -> None:
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]}"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("eta {task.fields[eta]}"),
            console=console,
            transient=False,
        )
        self._task: TaskID = self._bar.add_task(
            description, total=100, rows="", rate="", eta=UNKNOWN_TIME_LEFT
        )

    def show(self, progress: Mapping[str, Any], description: str | None = None) -> None:
        fields = bar_fields(progress, datetime.now(UTC))
        if description is not None:
            fields["description"] = description
        self._bar.update(self._task, **fields)

    def complete(self) -> None:
        self._bar.update(self._task, completed=100)

    def __enter__(self) -> RowsBar:
        self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._bar.stop()
