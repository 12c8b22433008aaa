"""Where the real server binaries are: `$DMCTL_SERVERS_BIN`, else scripts/build-servers.sh of
the source checkout (which builds them once and prints their directory)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SERVER_NAMES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "weaviate-server",
)
BIN_DIR_ENV = "DMCTL_SERVERS_BIN"


class ServersNotBuiltError(RuntimeError):
    pass


def checkout_root() -> Path:
    """The source checkout this package runs from (sandbox/datamigration_sandbox/real/... -> /)."""
    return Path(__file__).resolve().parents[3]


def locate_binaries(*, build: bool = True) -> Path:
    """The directory holding every server binary; runs the build script when needed."""
    explicit = os.environ.get(BIN_DIR_ENV)
    if explicit:
        return _checked(Path(explicit))
    script = checkout_root() / "scripts" / "build-servers.sh"
    if not script.exists():
        raise ServersNotBuiltError(f"no {BIN_DIR_ENV} and no {script}")
    if not build:
        current = Path.home() / ".cache/datamigration-operator/servers/bin/current"
        return _checked(current.resolve())
    result = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, check=False, timeout=3600
    )
    if result.returncode != 0:
        raise ServersNotBuiltError(
            f"{script} failed ({result.returncode}):\n{result.stderr[-4000:]}"
        )
    return _checked(Path(result.stdout.strip().splitlines()[-1]))


def server_versions(directory: Path) -> dict[str, str]:
    """binary -> version, from the VERSIONS file the build writes."""
    versions: dict[str, str] = {}
    path = directory / "VERSIONS"
    if path.exists():
        for line in path.read_text().splitlines():
            words = line.split()
            if len(words) >= 3:
                versions[words[0]] = words[2]
    return versions


def _checked(directory: Path) -> Path:
    missing = [name for name in SERVER_NAMES if not os.access(directory / name, os.X_OK)]
    if missing:
        raise ServersNotBuiltError(f"{directory} lacks {', '.join(missing)}")
    return directory
