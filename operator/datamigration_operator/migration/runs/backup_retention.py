"""Which backups a new one retires: the retention rule, pure.

After a new backup of a DataMigration is complete and its checksum verified, that migration's
older backups beyond `retain` are deleted, oldest first. Never another migration's (told by the
owner its manifest names, not by the file name), never the new one, never a file without a
manifest (nothing proves whose it is). An unfinished backup of the same migration (a pod killed
while writing: its manifest says so) is always retired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class BackupEntry:
    """One backup found in the folder, as its manifest describes it."""

    name: str
    owner: str
    """namespace/name of the DataMigration that took it."""
    taken_at: datetime
    complete: bool
    """Written, checksummed and renamed into place."""


class RetentionError(ValueError):
    """The rule was asked something it must refuse (a bug in the caller, never data's fault)."""


def retired(
    entries: Sequence[BackupEntry], *, owner: str, newest: str, retain: int
) -> list[BackupEntry]:
    """The entries to delete now that `newest` (complete, verified) is written."""
    return _split(entries, owner=owner, newest=newest, retain=retain)[1]


def kept(entries: Sequence[BackupEntry], *, owner: str, newest: str, retain: int) -> list[str]:
    """Names of the owner's complete backups that stay: `newest`, then the others newest first."""
    others = _split(entries, owner=owner, newest=newest, retain=retain)[0]
    return [newest, *(e.name for e in others)]


def _split(
    entries: Sequence[BackupEntry], *, owner: str, newest: str, retain: int
) -> tuple[list[BackupEntry], list[BackupEntry]]:
    """(older backups kept, newest first; backups retired)."""
    if retain < 1:
        raise RetentionError(f"retain must be at least 1, not {retain}")
    ours = [e for e in entries if e.owner == owner]
    if not any(e.name == newest and e.complete for e in ours):
        raise RetentionError(f"{newest} is not a complete backup of {owner}: nothing is retired")
    others = [e for e in ours if e.name != newest]
    unfinished = [e for e in others if not e.complete]
    finished = sorted(
        (e for e in others if e.complete), key=lambda e: (e.taken_at, e.name), reverse=True
    )
    return finished[: retain - 1], unfinished + finished[retain - 1 :]
