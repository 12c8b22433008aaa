"""`dmctl sandbox`: run the local control plane (Kubernetes API, Job runner, Weaviate)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import psutil
import typer
from rich.console import Console

from datamigration_sandbox.info import SandboxInfo

sandbox_app = typer.Typer(
    add_completion=False, help="A local control plane: Kubernetes API emulator, Jobs, Weaviate."
)
console = Console()
notes = Console(stderr=True)  # what `up` and `status` say beside the variables they print

DataDirOption = Annotated[
    Path,
    typer.Option("--data-dir", help="Where the sandbox keeps its state, logs and PVC folders."),
]
KubeconfigOption = Annotated[
    Path | None, typer.Option("--kubeconfig", help="Where to write the kubeconfig.")
]
RbacOption = Annotated[bool, typer.Option("--rbac", help="Enforce RBAC for non-admin users.")]
RealOption = Annotated[
    bool,
    typer.Option(
        "--real",
        help="Run the real servers (etcd, kube-apiserver, controller manager, scheduler, "
        "weaviate-server; built by scripts/build-servers.sh) with the process kubelet.",
    ),
]
WeaviateNodesOption = Annotated[
    int,
    typer.Option(
        "--weaviate-nodes",
        min=1,
        help="--real: weaviate-server nodes, a replicated cluster on loopback when more than "
        "one (collections created with replicationConfig.factor up to this many).",
    ),
]
DEFAULT_DATA_DIR = Path(".sandbox")
STATE_FILE = "sandbox.json"


def default_crd_dir() -> Path | None:
    """`crds/` of the working directory, else of the source checkout this package runs from."""
    for candidate in (Path.cwd() / "crds", Path(__file__).resolve().parents[3] / "crds"):
        if candidate.is_dir():
            return candidate
    return None


def read_state(data_dir: Path) -> SandboxInfo | None:
    path = data_dir / STATE_FILE
    if not path.exists():
        return None
    info = SandboxInfo.from_json(path.read_text())
    if info.pid and not _alive(info.pid):
        path.unlink(missing_ok=True)  # a sandbox that died without cleaning up
        return None
    return info


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it has stopped serving)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def environment(info: SandboxInfo) -> dict[str, str]:
    """What kubectl and `dmctl copy|sync|validate` read to use this sandbox."""
    return {
        "KUBECONFIG": str(info.kubeconfig),
        "DMCTL_WEAVIATE": info.weaviate_url,
        "DMCTL_GRPC_PORT": str(info.weaviate_grpc_port),
    }


def print_usage(info: SandboxInfo) -> None:
    """The story on stderr, the environment on stdout: `eval "$(dmctl sandbox up)"` sets it."""
    kind = "real servers" if info.real else "emulator"
    notes.print(f"[bold green]sandbox running[/] ({kind}, pid {info.pid})")
    notes.print(f"  Kubernetes API  {info.kube_url}  (RBAC {'on' if info.rbac else 'off'})")
    notes.print(f"  Weaviate        {info.weaviate_url}  gRPC 127.0.0.1:{info.weaviate_grpc_port}")
    notes.print(f"  data            {info.data_dir}")
    notes.print(
        '\nThe variables below (set them with eval "$(dmctl sandbox up)") point kubectl and '
        "dmctl copy|sync|validate (--weaviate, --grpc-port) at it:"
    )
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in environment(info).items())
    print(f"export {exports}", flush=True)  # plain print: rich would wrap a long line
    notes.print("\nThen:")
    if info.real:
        notes.print("  kubectl get nodes,pods -A")
        notes.print(f"  logs of the servers in {info.data_dir}/logs")
    notes.print("  kubectl get crds")
    notes.print("  kubectl get datamigrations -A")
    notes.print("\nStop it with: dmctl sandbox down" + _data_dir_flag(Path(info.data_dir)))


def _data_dir_flag(data_dir: Path) -> str:
    return "" if data_dir == DEFAULT_DATA_DIR.resolve() else f" --data-dir {data_dir}"


def start_background(
    data_dir: Path,
    *,
    kubeconfig: Path | None = None,
    rbac: bool = False,
    real: bool = False,
    weaviate_nodes: int = 1,
    timeout: float = 30.0,
) -> SandboxInfo:
    """Start `dmctl sandbox serve` detached (own session, output to sandbox.log) and wait until
    it reports where it listens."""
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "datamigration_operator.cli.main", "sandbox", "serve"]
    command += ["--data-dir", str(data_dir)]
    if kubeconfig is not None:
        command += ["--kubeconfig", str(kubeconfig.resolve())]
    if rbac:
        command.append("--rbac")
    if real:
        command.append("--real")
    if weaviate_nodes != 1:
        command += ["--weaviate-nodes", str(weaviate_nodes)]
    log = str(data_dir / "sandbox.log")
    pid = os.posix_spawn(
        sys.executable,
        command,
        os.environ,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        info = read_state(data_dir)
        if info is not None:
            return info
        time.sleep(0.1)
    stop_process(pid, data_dir)
    raise RuntimeError(f"the sandbox did not start; see {log}")


def stop_process(pid: int, data_dir: Path) -> None:
    """SIGTERM, then SIGKILL after 30 s; reaps it when it is our child; removes the state file."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30  # the real servers stop in turn
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    (data_dir / STATE_FILE).unlink(missing_ok=True)


@sandbox_app.command()
def up(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    kubeconfig: KubeconfigOption = None,
    rbac: RbacOption = False,
    real: RealOption = False,
    weaviate_nodes: WeaviateNodesOption = 1,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for readiness (--real: at least 180).")
    ] = 30.0,
) -> None:
    """Start the sandbox in the background and print how to use it."""
    data_dir = data_dir.resolve()
    if weaviate_nodes != 1 and not real:
        notes.print("[red]--weaviate-nodes needs --real (the emulator is one node)[/]")
        raise typer.Exit(2)
    running = read_state(data_dir)
    if running is not None:
        notes.print("[yellow]a sandbox already runs with this data dir[/]")
        print_usage(running)
        return
    try:
        info = start_background(
            data_dir,
            kubeconfig=kubeconfig,
            rbac=rbac,
            real=real,
            weaviate_nodes=weaviate_nodes,
            timeout=max(timeout, 180.0) if real else timeout,
        )
    except RuntimeError as error:
        notes.print(f"[red]{error}[/]")
        raise typer.Exit(1) from error
    print_usage(info)


@sandbox_app.command(hidden=True)
def serve(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    kubeconfig: KubeconfigOption = None,
    rbac: RbacOption = False,
    real: RealOption = False,
    weaviate_nodes: WeaviateNodesOption = 1,
) -> None:
    """Run the sandbox in the foreground until SIGTERM or SIGINT."""
    if real:
        _serve_real(data_dir.resolve(), kubeconfig, weaviate_nodes)
        return
    asyncio.run(_serve(data_dir.resolve(), kubeconfig, rbac))


def _serve_real(data_dir: Path, kubeconfig: Path | None, weaviate_nodes: int = 1) -> None:
    import threading

    from datamigration_sandbox.real.control_plane import RealControlPlane

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    plane = RealControlPlane(
        data_dir,
        kubeconfig=kubeconfig,
        crd_dir=default_crd_dir(),
        weaviate_nodes=weaviate_nodes,
    )
    try:
        info = plane.start()
        _write_state(data_dir, dataclasses.replace(info, pid=os.getpid(), real=True))
        console.print(f"real control plane ready in {plane.times.marks['total']:.1f} s")
        stopping.wait()
    finally:
        (data_dir / STATE_FILE).unlink(missing_ok=True)
        plane.stop()


def _write_state(data_dir: Path, info: SandboxInfo) -> None:
    state = data_dir / STATE_FILE
    tmp = state.with_suffix(".tmp")
    tmp.write_text(info.to_json())
    tmp.replace(state)  # atomic: `up` never reads a half-written file


async def _serve(data_dir: Path, kubeconfig: Path | None, rbac: bool) -> None:
    from datamigration_sandbox.control_plane import ControlPlane  # the servers: heavy

    plane = ControlPlane(data_dir, crd_dir=default_crd_dir(), rbac=rbac, kubeconfig=kubeconfig)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    info = await plane.start()
    state = data_dir / STATE_FILE
    _write_state(data_dir, dataclasses.replace(info, pid=os.getpid()))
    try:
        await stopping.wait()
    finally:
        state.unlink(missing_ok=True)
        await plane.stop()


@sandbox_app.command()
def down(data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    """Stop the sandbox started with `dmctl sandbox up`."""
    data_dir = data_dir.resolve()
    info = read_state(data_dir)
    if info is None:
        console.print("no sandbox is running with this data dir")
        return
    stop_process(info.pid, data_dir)
    console.print("sandbox stopped")


@sandbox_app.command()
def status(data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    """Show whether a sandbox runs and where."""
    info = read_state(data_dir.resolve())
    if info is None:
        console.print("no sandbox is running with this data dir")
        raise typer.Exit(1)
    print_usage(info)


@sandbox_app.command()
def demo(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Keep the demo's state here (default: temp).")
    ] = None,
    real: RealOption = False,
) -> None:
    """A guided walk-through: control plane, kubectl, a Job on a PVC, Weaviate, a DataMigration."""
    from datamigration_sandbox.cli.demo import main as run_demo  # heavy imports only when asked

    run_demo(data_dir, real=real)
