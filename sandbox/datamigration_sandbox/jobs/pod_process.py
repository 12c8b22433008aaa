"""A container emulated by a local process in its own session (so its whole group can be killed).

stdout and stderr go to the container's log file, as the container runtime writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import psutil


class ContainerStartError(Exception):
    """The runtime could not start the container (exit code 128, reason StartError)."""


_log = logging.getLogger(__name__)


def venv_bin_dir() -> str:
    return os.path.dirname(sys.executable)


def container_path(prefix: tuple[Path, ...] = ()) -> str:
    """PATH for containers: `prefix` (stand-in executables, e.g. a test's fake `dmctl`), then
    the venv's bin, so `dmctl` and `python` resolve as in our image."""
    inherited = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    return os.pathsep.join([*map(str, prefix), venv_bin_dir(), inherited])


def image_environment(prefix: tuple[Path, ...] = ()) -> dict[str, str]:
    """The variables the "image" (this virtualenv and source tree) gives every container: PATH,
    and PYTHONPATH when the sandbox itself runs with one (a checkout or worktree other than the
    one installed in the virtualenv), so pods run the same code as the process that started them."""
    env = {"PATH": container_path(prefix)}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def resolve_executable(name: str, path: str) -> str:
    if "/" in name:
        if os.access(name, os.X_OK) and not os.path.isdir(name):
            return name
    else:
        found = shutil.which(name, path=path)
        if found:
            return found
    raise ContainerStartError(
        f'failed to create containerd task: exec: "{name}": '
        "executable file not found in $PATH: unknown"
    )


def exit_code(returncode: int) -> int:
    """A signalled process reports 128+signal, like a container's exit code."""
    return 128 - returncode if returncode < 0 else returncode


def _open_log(log_path: Path, cwd: Path) -> BinaryIO:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    return log_path.open("ab")


class ContainerProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._exit: int | None = None

    @classmethod
    async def start(
        cls, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path
    ) -> ContainerProcess:
        if not argv:
            raise ContainerStartError("sandbox: container needs an explicit command")
        executable = resolve_executable(argv[0], env.get("PATH", container_path()))
        with _open_log(log_path, cwd) as log:
            try:
                process = await asyncio.create_subprocess_exec(
                    executable,
                    *argv[1:],
                    env=dict(env),
                    cwd=str(cwd),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ContainerStartError(f"failed to create containerd task: {exc}") from exc
        return cls(process)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._exit is None and self._process.returncode is None

    async def wait(self) -> int:
        returncode = await self._process.wait()
        # The container ends with its main process: nothing it started may outlive it.
        self._kill_group(signal.SIGKILL)
        self._exit = exit_code(returncode)
        return self._exit

    def listens_on(self, port: int) -> bool:
        """Whether the container's processes hold a TCP listener on `port`. Sandbox pods share
        127.0.0.1, so an answer on the port may come from another pod (the old one of a rolling
        update); a probe only counts when this container is the one listening."""
        try:
            root = psutil.Process(self._process.pid)
            for process in (root, *root.children(recursive=True)):
                for connection in process.net_connections(kind="tcp"):
                    if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
                        return True
        except psutil.Error:
            return False
        return False

    def send(self, sig: int) -> bool:
        """Signal the whole process group; False when it has already ended."""
        if not self.running:
            return False
        return self._kill_group(sig)

    async def terminate(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds (the kubelet's graceful stop)."""
        if not self.send(signal.SIGTERM):
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._process.wait()), grace)
        except TimeoutError:
            _log.warning("pid %d still running %.0f s after SIGTERM: SIGKILL", self.pid, grace)
            self.send(signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._process.wait()), 5)

    def _kill_group(self, sig: int) -> bool:
        try:
            os.killpg(self._process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True
