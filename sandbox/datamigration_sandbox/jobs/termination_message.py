"""A container's termination message, as the kubelet keeps it.

The kubelet bind-mounts a fresh file at the container's terminationMessagePath (default
/dev/termination-log) and, when the container exits, puts what it wrote there into
state.terminated.message (at most 4096 bytes). With terminationMessagePolicy
FallbackToLogsOnError, an empty file of a container that failed gives way to the tail of its log
(the last 80 lines, at most 2048 bytes). Without mount namespaces the sandbox maps the path onto a
per-container file like any mountPath (see mount_paths): a string naming it is rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datamigration_sandbox.jobs.mount_paths import Mount

DEFAULT_PATH = "/dev/termination-log"
MAX_MESSAGE_BYTES = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048


def termination_file(pod_dir: Path, container: str) -> Path:
    """The local file that stands in for the container's terminationMessagePath."""
    return pod_dir / "termination-log" / container


def termination_mount(container: Mapping[str, Any], file: Path) -> Mount:
    """The mount of a fresh, empty `file` at the container's terminationMessagePath."""
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(b"")
    return Mount(str(container.get("terminationMessagePath") or DEFAULT_PATH), file)


def termination_message(
    container: Mapping[str, Any], file: Path, exit_code: int, log_path: Path
) -> str | None:
    """What the kubelet reports when the container exited; the file is emptied for the next
    run of the container (a restart gets a fresh file, as a new container would)."""
    try:
        with file.open("rb") as handle:
            written = handle.read(MAX_MESSAGE_BYTES)
        file.write_bytes(b"")
    except OSError:
        written = b""
    message = written.decode("utf-8", errors="replace")
    fallback = container.get("terminationMessagePolicy") == "FallbackToLogsOnError"
    if not message and fallback and exit_code != 0:
        message = _log_tail(log_path)
    return message or None


def _log_tail(log_path: Path) -> str:
    try:
        data = log_path.read_bytes()
    except OSError:
        return ""
    tail = b"\n".join(data.splitlines()[-FALLBACK_LOG_LINES:])
    return tail[-FALLBACK_LOG_BYTES:].decode("utf-8", errors="replace")
