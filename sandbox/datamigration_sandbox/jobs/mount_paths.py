"""Maps a container's mountPaths onto local folders by rewriting the strings that name them.

The sandbox has no mount namespaces: a process sees the host file system. Instead, every string
the container gets (command, args, env values, workingDir) that starts with a mountPath (longest
match, followed by '/' or the end) is rewritten to the local folder backing that volume. The
same applies to the value of `--flag=/path` arguments and to the strings inside JSON documents
(a Job's configuration passed as a JSON env var names its SQLite file that way).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Mount:
    mount_path: str  # the path inside the container, e.g. /data
    local: Path  # the folder (or file, with subPath) that backs it


class MountTable:
    def __init__(self, mounts: list[Mount]) -> None:
        normalized = [Mount(m.mount_path.rstrip("/") or "/", m.local) for m in mounts]
        self._mounts = sorted(normalized, key=lambda m: len(m.mount_path), reverse=True)

    @property
    def mounts(self) -> list[Mount]:
        return list(self._mounts)

    def local_path(self, path: str) -> str | None:
        """The local path for a container path under a mount, or None."""
        for mount in self._mounts:
            root = mount.mount_path
            if root == "/":
                if path.startswith("/"):
                    return str(mount.local / path.lstrip("/"))
                continue
            if path == root:
                return str(mount.local)
            if path.startswith(root + "/"):
                return str(mount.local) + path[len(root) :]
        return None

    def rewrite(self, text: str) -> str:
        """`text` with container paths replaced, as a whole, a --flag value or JSON strings."""
        local = self.local_path(text)
        if local is not None:
            return local
        if text.startswith("-") and "=" in text:
            flag, value = text.split("=", 1)
            mapped = self.local_path(value)
            return f"{flag}={mapped}" if mapped is not None else text
        if text[:1] in ("{", "["):
            return self._rewrite_json(text)
        return text

    def _rewrite_json(self, text: str) -> str:
        try:
            document = json.loads(text)
        except ValueError:
            return text
        rewritten = self._rewrite_value(document)
        return text if rewritten == document else json.dumps(rewritten)

    def _rewrite_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.rewrite(value)
        if isinstance(value, list):
            return [self._rewrite_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self._rewrite_value(v) for k, v in value.items()}
        return value
