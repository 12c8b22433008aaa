"""`dmctl status|advance|rollback`: read and drive a DataMigration (`kubectl datamigration`).

The CLI writes only `spec.phase` (a user's action, as `kubectl patch` would); the operator does
the rest. Refusals come back from the API server (the CRD's CEL rules) and are shown verbatim.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from datamigration_operator.api.phases import PHASES
from datamigration_operator.api.reasons import ROLLED_BACK

console = Console()
NamespaceOption = Annotated[str, typer.Option("--namespace", "-n", help="The namespace.")]
KubeconfigOption = Annotated[
    Path | None, typer.Option(help="Kubeconfig; default $KUBECONFIG, in-cluster, ~/.kube/config.")
]
DEFAULT_NAMESPACE = "default"


@asynccontextmanager
async def _client(kubeconfig: Path | None) -> AsyncIterator[Any]:
    import kopf

    from datamigration_operator.kube.client import KubeClient
    from datamigration_operator.kube.connection import load_connection
    from datamigration_operator.kube.transport import HttpTransport

    transport = HttpTransport(load_connection(kopf.OperatorSettings(), kubeconfig))
    try:
        yield KubeClient(transport)
    finally:
        await transport.close()


def status_rows(dm: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What `dmctl status` prints, as (label, value) rows; pure so it is easy to test."""
    spec, status = dm.get("spec") or {}, dm.get("status") or {}
    mode = status.get("mode") or {}
    rows = [
        ("phase", f"{spec.get('phase', '?')} (observed: {status.get('phase') or '-'})"),
        ("state", status.get("state") or "Pending"),
        ("message", status.get("message") or ""),
        (
            "mode",
            f"desired {mode.get('desired') or '-'}, ConfigMap {mode.get('configMap') or '-'}, "
            f"applied {mode.get('applied') or '-'}",
        ),
    ]
    progress = status.get("progress") or {}
    if progress:
        done, total = progress.get("rowsDone"), progress.get("rowsTotal")
        rate = progress.get("rowsPerSecond")
        rows.append(
            (
                "progress",
                f"{progress.get('percent', 0)}% ({done}/{total} rows"
                + (f", {rate} rows/s" if rate else "")
                + (f", eta {progress['eta']}" if progress.get("eta") else "")
                + ")",
            )
        )
    validation = status.get("validation") or {}
    if validation.get("finishedAt"):
        verdict = "passed" if validation.get("passed") else "FAILED"
        rows.append(
            (
                "validation",
                f"{verdict} at {validation['finishedAt']}: checked {validation.get('checked', 0)}, "
                f"missing {validation.get('missing', 0)}, extra {validation.get('extra', 0)}, "
                f"mismatched {validation.get('mismatched', 0)}",
            )
        )
    for condition in status.get("conditions") or []:
        rows.append(
            (
                f"  {condition.get('type')}",
                f"{condition.get('status')} {condition.get('reason', '')}: "
                f"{condition.get('message', '')}",
            )
        )
    return rows


def _condition_true(dm: Mapping[str, Any], condition_type: str) -> bool:
    conditions = (dm.get("status") or {}).get("conditions") or []
    return any(c.get("type") == condition_type and c.get("status") == "True" for c in conditions)


def settled(dm: Mapping[str, Any], phase: str) -> bool:
    """The operator has acted on this generation's phase and reached a resting state."""
    status = dm.get("status") or {}
    if status.get("observedGeneration") != dm["metadata"].get("generation"):
        return False
    if phase == "rollback":
        return _condition_true(dm, ROLLED_BACK)
    return status.get("phase") == phase and status.get("state") in (
        "Succeeded",
        "Failed",
        "Blocked",
    )


async def _show(name: str, namespace: str, kubeconfig: Path | None) -> None:
    from datamigration_operator.kube.resources import DATAMIGRATIONS

    async with _client(kubeconfig) as client:
        dm = await client.get(DATAMIGRATIONS, namespace, name)
    if dm is None:
        console.print(f"[red]datamigration {namespace}/{name} not found[/]")
        raise typer.Exit(1)
    table = Table(title=f"datamigration {namespace}/{name}", show_header=False)
    for label, value in status_rows(dm):
        table.add_row(label, value)
    console.print(table)


async def _advance(
    name: str, namespace: str, phase: str, kubeconfig: Path | None, wait: float
) -> None:
    from datamigration_operator.kube.errors import KubeApiError
    from datamigration_operator.kube.resources import DATAMIGRATIONS

    started = time.monotonic()
    async with _client(kubeconfig) as client:
        try:
            await client.merge_patch(DATAMIGRATIONS, namespace, name, {"spec": {"phase": phase}})
        except KubeApiError as error:
            console.print(f"[red]refused:[/] {error.message}")
            raise typer.Exit(1) from error
        console.print(f"datamigration {namespace}/{name}: spec.phase = {phase}")
        while wait > 0:
            dm = await client.get(DATAMIGRATIONS, namespace, name)
            if dm is not None and settled(dm, phase):
                elapsed = time.monotonic() - started
                state = (dm.get("status") or {}).get("state")
                console.print(f"{phase}: {state} after {elapsed:.2f} s")
                if state in ("Failed", "Blocked"):
                    console.print((dm.get("status") or {}).get("message") or "")
                    raise typer.Exit(1)
                return
            if time.monotonic() - started > wait:
                console.print(f"[yellow]not settled after {wait:.0f} s; see dmctl status[/]")
                raise typer.Exit(2)
            await asyncio.sleep(0.1)


def status(
    name: str,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Phase, state, mode, progress, validation and conditions of a DataMigration."""
    asyncio.run(_show(name, namespace, kubeconfig))


def advance(
    name: str,
    phase: Annotated[str, typer.Argument(help=f"One of: {', '.join(PHASES)}.")],
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
    kubeconfig: KubeconfigOption = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the operator to settle (0: do not wait).")
    ] = 0.0,
) -> None:
    """Set spec.phase; the API server refuses illegal jumps with the reason."""
    if phase not in PHASES:
        raise typer.BadParameter(f"unknown phase {phase!r}; one of: {', '.join(PHASES)}")
    asyncio.run(_advance(name, namespace, phase, kubeconfig, wait))


def rollback(
    name: str,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
    kubeconfig: KubeconfigOption = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for RolledBack=True.")] = 30.0,
) -> None:
    """Roll back at once: the app returns to sqlite_only, running Jobs are deleted."""
    asyncio.run(_advance(name, namespace, "rollback", kubeconfig, wait))
