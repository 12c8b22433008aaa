"""The kubelet's AtomicWriter: how configMap/secret volume contents appear and change in place.

A projected volume holds its payload in a timestamped folder and exposes it through symlinks:

    <volume>/..2026_11_26_09_00_00.123456789/<key>   the payload (files with their modes)
    <volume>/..data -> ..2026_11_26_09_00_00.123456789
    <volume>/<key> -> ..data/<key>                     one link per top-level path

An update writes a new timestamped folder, points `..data_tmp` at it and renames that over
`..data` (rename(2) is atomic), so a reader opening `<volume>/<key>` sees the whole old or the
whole new payload, never a mix. Then stale key links and the old folder are removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATA_LINK = "..data"
_DATA_LINK_TMP = "..data_tmp"


@dataclass(frozen=True)
class FileProjection:
    content: bytes
    mode: int


Payload = Mapping[str, FileProjection]  # relative path -> file


class PayloadError(ValueError):
    """A payload path that could escape the volume or collide with the writer's own names."""


def validate_payload(payload: Payload) -> None:
    for relative in payload:
        parts = relative.split("/")
        if (
            not relative
            or relative.startswith("/")
            or any(part in ("", ".", "..") for part in parts)
            or parts[0].startswith("..")
        ):
            raise PayloadError(f"invalid path {relative!r} in a projected volume")


def is_projected(folder: Path) -> bool:
    """True when `folder` has the atomic layout (a `..data` link)."""
    return (folder / DATA_LINK).is_symlink()


def current_payload(folder: Path) -> dict[str, FileProjection] | None:
    """What the volume shows now, read through `..data`; None before the first write."""
    if not is_projected(folder):
        return None
    data = folder / DATA_LINK
    files: dict[str, FileProjection] = {}
    for path in sorted(data.rglob("*")):
        if path.is_file():
            relative = path.relative_to(data).as_posix()
            files[relative] = FileProjection(path.read_bytes(), path.stat().st_mode & 0o7777)
    return files


def write_payload(folder: Path, payload: Payload) -> bool:
    """Make the volume show exactly `payload`; False (nothing touched) when it already does."""
    validate_payload(payload)
    if current_payload(folder) == dict(payload):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    old_dir = _data_target(folder)
    new_dir = Path(tempfile.mkdtemp(prefix=_timestamp_prefix(), dir=folder))
    new_dir.chmod(0o755)
    for relative, projection in payload.items():
        target = new_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(projection.content)
        target.chmod(projection.mode)
    tmp_link = folder / _DATA_LINK_TMP
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(new_dir.name)
    os.replace(tmp_link, folder / DATA_LINK)
    _link_top_level(folder, {relative.split("/")[0] for relative in payload})
    if old_dir is not None and old_dir.name != new_dir.name:
        shutil.rmtree(old_dir, ignore_errors=True)
    return True


def _data_target(folder: Path) -> Path | None:
    link = folder / DATA_LINK
    if not link.is_symlink():
        return None
    return folder / os.readlink(link)


def _link_top_level(folder: Path, names: set[str]) -> None:
    for name in names:
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(f"{DATA_LINK}/{name}")
    for entry in folder.iterdir():
        if entry.name.startswith("..") or entry.name in names:
            continue
        if entry.is_symlink():  # a key the new payload no longer has
            entry.unlink()


def _timestamp_prefix() -> str:
    """`..2026_11_26_09_00_00.`; mkdtemp appends the random part, as the kubelet's MkdirTemp."""
    return time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
