"""`dmctl list|status|watch|advance|rollback`: read and drive DataMigrations (also
`kubectl datamigration ...`), with kubectl's habits: `-n` defaults to the namespace of the
kubeconfig's current context (in a pod, its own), `-A` lists every namespace, `-o json|yaml|wide`.

The CLI writes only `spec.phase` (a user's action, as `kubectl patch` would); the operator does
the rest. Refusals come back from the API server (the CRD's CEL rules) and are shown verbatim.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from datamigration_operator.api.phases import PHASES
from datamigration_operator.api.reasons import ROLLED_BACK
from datamigration_operator.api.status import ReadPerformance
from datamigration_operator.cli.exit_status import EXIT_RETRYABLE
from datamigration_operator.cli.progress_bar import RowsBar
from datamigration_operator.cli.read_figures import read_figure_lines

console = Console()
NamespaceOption = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        help="The namespace; default the kubeconfig context's (in a pod, its own), else default.",
    ),
]
KubeconfigOption = Annotated[
    Path | None, typer.Option(help="Kubeconfig; default $KUBECONFIG, in-cluster, ~/.kube/config.")
]
Output = Literal["table", "wide", "json", "yaml"]
OutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="table (default), wide, json or yaml.")
]
DEFAULT_NAMESPACE = "default"
RESTING_STATES = ("Succeeded", "Failed", "Blocked")


@dataclass
class Session:
    client: Any
    """kube.client.KubeClient"""
    namespace: str
    """The namespace asked for, or the context's."""


@asynccontextmanager
async def _session(kubeconfig: Path | None, namespace: str | None) -> AsyncIterator[Session]:
    import kopf

    from datamigration_operator.kube.client import KubeClient
    from datamigration_operator.kube.connection import load_connection
    from datamigration_operator.kube.errors import KubeApiError, KubeConnectionError
    from datamigration_operator.kube.transport import HttpTransport

    try:
        info = load_connection(kopf.OperatorSettings(), kubeconfig)
    except kopf.LoginError as error:
        console.print(f"error: no Kubernetes credentials: {error}", style="red", markup=False)
        raise typer.Exit(EXIT_RETRYABLE) from None
    transport = HttpTransport(info)
    try:
        yield Session(
            KubeClient(transport), namespace or info.default_namespace or DEFAULT_NAMESPACE
        )
    # one line a person can act on (a refused credential, a server down), not a traceback
    except KubeApiError as error:
        console.print(f"error: {info.server} answered {error}", style="red", markup=False)
        raise typer.Exit(EXIT_RETRYABLE) from None
    except KubeConnectionError as error:
        console.print(f"error: cannot reach {info.server}: {error}", style="red", markup=False)
        raise typer.Exit(EXIT_RETRYABLE) from None
    finally:
        await transport.close()


def _outbox_row(outbox: Mapping[str, Any]) -> str:
    """The app's outbox as a Job last saw it: what RollbackReady judges."""
    if outbox.get("leaseHolder"):
        lease = f"drained by {outbox['leaseHolder']}"
    elif outbox.get("leaseExpiresAt"):
        lease = f"no drainer (lease lapsed at {outbox['leaseExpiresAt']})"
    else:
        lease = "no drainer ever held the lease"
    return (
        f"{outbox.get('depth', 0)} waiting, oldest {outbox.get('oldestAgeSeconds', 0)} s, "
        f"{lease}; seen by {outbox.get('job') or '?'} at {outbox['observedAt']}"
    )


def status_rows(dm: Mapping[str, Any], *, wide: bool = False) -> list[tuple[str, str]]:
    """What `dmctl status` prints, as (label, value) rows; pure so it is easy to test. Wide adds
    the Jobs and the history."""
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
        eta = live_eta(status)
        rows.append(
            (
                "progress",
                f"{progress.get('percent', 0)}% ({done}/{total} rows"
                + (f", {rate} rows/s" if rate else "")
                + (f", eta {eta}" if eta else "")
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
                f"mismatched {validation.get('mismatched', 0)}" + _reference_counts(validation),
            )
        )
        rows += [("  reads", line) for line in _read_lines(validation.get("readPerformance"))]
    outbox = status.get("outbox") or {}
    if outbox.get("observedAt"):
        rows.append(("outbox", _outbox_row(outbox)))
    rows.extend(switch_rows(status.get("switch") or {}))
    backup = status.get("backup") or {}
    if backup.get("path"):
        rows.append(
            (
                "backup",
                f"{backup.get('claim')}:{backup['path']} ({backup.get('sizeBytes')} bytes, "
                f"sha256 {backup.get('sha256')}, taken {backup.get('takenAt')}; "
                f"{len(backup.get('retained') or [])} kept)",
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
    if wide:
        for job in status.get("jobs") or []:
            ended = f" -> {job['finishedAt']}" if job.get("finishedAt") else ""
            rows.append(
                (
                    f"  job {job.get('name')}",
                    f"{job.get('phase')} {job.get('state')} {job.get('startedAt') or ''}{ended}",
                )
            )
        for entry in status.get("history") or []:
            rows.append(
                (
                    f"  {entry.get('at')}",
                    f"{entry.get('phase')} {entry.get('result')}: {entry.get('message') or ''}",
                )
            )
    return rows


def switch_rows(switch: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The gradual switch: the share now, then each step reached with its figures."""
    if not switch.get("steps"):
        return []
    rows = [
        (
            "switch",
            f"step {switch.get('step')}, {switch.get('readPercent', 0)}% of reads from Weaviate",
        )
    ]
    for step in switch["steps"]:
        figures = (
            f", mismatched {step.get('mismatched', 0)}/{step.get('compared', 0)}, "
            f"errors {step.get('weaviateErrors', 0)}/{step.get('weaviateReads', 0)}"
            + (f", p99 {step['latencyP99Ms']} ms" if step.get("latencyP99Ms") is not None else "")
            if step.get("compared") or step.get("weaviateReads")
            else ""
        )
        rows.append(
            (
                f"  step {step.get('step')}",
                f"{step.get('readPercent')}% {step.get('result')} from {step.get('startedAt')}"
                f"{figures}" + (f": {step['message']}" if step.get("message") else ""),
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
    return status.get("phase") == phase and status.get("state") in RESTING_STATES


async def _get(session: Session, name: str) -> dict[str, Any]:
    from datamigration_operator.kube.resources import DATAMIGRATIONS

    dm: dict[str, Any] | None = await session.client.get(DATAMIGRATIONS, session.namespace, name)
    if dm is None:
        console.print(f"[red]datamigration {session.namespace}/{name} not found[/]")
        raise typer.Exit(1)
    return dm


async def _show(
    name: str, namespace: str | None, kubeconfig: Path | None, output: Output = "table"
) -> None:
    async with _session(kubeconfig, namespace) as session:
        dm = await _get(session, name)
    if output in ("json", "yaml"):
        _dump(dm, output)
        return
    table = Table(title=f"datamigration {session.namespace}/{name}", show_header=False)
    for label, value in status_rows(dm, wide=output == "wide"):
        table.add_row(label, value)
    console.print(table)


def _dump(obj: Mapping[str, Any], output: Output) -> None:
    """kubectl's -o json|yaml: the objects as the API server returned them (no colour)."""
    if output == "json":
        typer.echo(json.dumps(obj, indent=4))
    else:
        import yaml

        typer.echo(yaml.safe_dump(dict(obj), sort_keys=False), nl=False)


# -- list -------------------------------------------------------------------------------------

COLUMNS = ("NAME", "PHASE", "STATE", "MODE", "PROGRESS", "VALIDATED", "AGE")
WIDE_COLUMNS = ("REASON", "APPLIED", "ROWS", "ETA", "MESSAGE")


def _condition(dm: Mapping[str, Any], condition_type: str) -> Mapping[str, Any]:
    conditions = (dm.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == condition_type), {})


def age(created: str | None, now: datetime) -> str:
    """kubectl's short age: 42s, 7m, 3h, 5d."""
    if not created:
        return "<unknown>"
    seconds = int((now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size or (unit == "m" and seconds >= size):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def live_eta(status: Mapping[str, Any]) -> str | None:
    """status.progress.eta while the job has rows left; the last progress a Job published
    keeps its eta, which means nothing once the job finished (or every row is done)."""
    progress = status.get("progress") or {}
    done, total = progress.get("rowsDone"), progress.get("rowsTotal")
    finished = status.get("state") in ("Succeeded", "Failed") or (
        total is not None and done is not None and done >= total
    )
    eta = progress.get("eta")
    return None if finished or not eta else str(eta)


def list_row(dm: Mapping[str, Any], now: datetime, *, wide: bool = False) -> list[str]:
    """One line of `dmctl list`: the CRD's printer columns (`kubectl get dm`), -o wide's too."""
    spec, status = dm.get("spec") or {}, dm.get("status") or {}
    mode, progress = status.get("mode") or {}, status.get("progress") or {}
    percent = progress.get("percent")
    row = [
        str(dm["metadata"]["name"]),
        str(spec.get("phase") or ""),
        str(status.get("state") or "Pending"),
        str(mode.get("configMap") or ""),
        "" if percent is None else f"{percent}%",
        str(_condition(dm, "Validated").get("status") or ""),
        age(dm["metadata"].get("creationTimestamp"), now),
    ]
    if wide:
        rows_done = progress.get("rowsDone")
        row += [
            str(_condition(dm, "Ready").get("reason") or ""),
            str(mode.get("applied") or ""),
            "" if rows_done is None else str(rows_done),
            live_eta(status) or "",
            str(status.get("message") or ""),
        ]
    return row


async def _list(
    namespace: str | None, all_namespaces: bool, kubeconfig: Path | None, output: Output
) -> None:
    from datamigration_operator.kube.resources import DATAMIGRATIONS

    async with _session(kubeconfig, namespace) as session:
        if all_namespaces:
            items = await session.client.list_all_namespaces(DATAMIGRATIONS)
        else:
            items = await session.client.list(DATAMIGRATIONS, session.namespace)
    items = sorted(items, key=lambda d: (d["metadata"]["namespace"], d["metadata"]["name"]))
    if output in ("json", "yaml"):
        _dump({"apiVersion": "v1", "kind": "List", "items": items}, output)
        return
    if not items:
        where = "any namespace" if all_namespaces else f"the {session.namespace} namespace"
        typer.echo(f"No DataMigrations found in {where}.", err=True)
        return
    wide = output == "wide"
    header = [*(["NAMESPACE"] if all_namespaces else []), *COLUMNS, *(WIDE_COLUMNS if wide else ())]
    now = datetime.now(UTC)
    lines = [
        [*([d["metadata"]["namespace"]] if all_namespaces else []), *list_row(d, now, wide=wide)]
        for d in items
    ]
    typer.echo(_columns([header, *lines]), nl=False)


def _columns(rows: Sequence[Sequence[str]]) -> str:
    """kubectl's plain columns: left-aligned, three spaces apart, no trailing blanks."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )


# -- watch ------------------------------------------------------------------------------------


def watch_line(dm: Mapping[str, Any]) -> str:
    status = dm.get("status") or {}
    phase = status.get("phase") or (dm.get("spec") or {}).get("phase")
    return f"{phase}: {status.get('state') or 'Pending'}"


async def _watch(
    name: str, namespace: str | None, kubeconfig: Path | None, give_up: float, interval: float
) -> None:
    started = time.monotonic()
    async with _session(kubeconfig, namespace) as session:
        dm = await _get(session, name)
        phase = str((dm.get("spec") or {}).get("phase"))
        with RowsBar(console, watch_line(dm)) as bar:
            while True:
                progress = (dm.get("status") or {}).get("progress") or {}
                bar.show(progress, watch_line(dm))
                if settled(dm, phase):
                    break
                if give_up and time.monotonic() - started > give_up:
                    console.print(f"[yellow]{phase} not settled after {give_up:.0f} s[/]")
                    raise typer.Exit(2)
                await asyncio.sleep(interval)
                dm = await _get(session, name)
                if (dm.get("spec") or {}).get("phase") != phase:
                    console.print(f"spec.phase changed to {dm['spec']['phase']}; stopped")
                    raise typer.Exit(2)
            state = (dm.get("status") or {}).get("state")
            if phase != "rollback" and state == "Succeeded":
                bar.complete()
    elapsed = time.monotonic() - started
    status = dm.get("status") or {}
    console.print(f"datamigration {session.namespace}/{name} {watch_line(dm)} ({elapsed:.1f} s)")
    if status.get("state") in ("Failed", "Blocked"):
        console.print(status.get("message") or "")
        raise typer.Exit(1)


async def _advance(
    name: str, namespace: str | None, phase: str, kubeconfig: Path | None, wait: float
) -> None:
    from datamigration_operator.kube.errors import KubeApiError
    from datamigration_operator.kube.resources import DATAMIGRATIONS

    started = time.monotonic()
    async with _session(kubeconfig, namespace) as session:
        client, namespace = session.client, session.namespace
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
    namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None,
    output: OutputOption = "table",
) -> None:
    """Phase, state, mode, progress, validation and conditions (-o wide: Jobs, history)."""
    asyncio.run(_show(name, namespace, kubeconfig, output))


def list_command(
    namespace: NamespaceOption = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Every namespace.")
    ] = False,
    kubeconfig: KubeconfigOption = None,
    output: OutputOption = "table",
) -> None:
    """The DataMigrations of a namespace (or all): phase, state, mode, progress, validated."""
    if namespace and all_namespaces:
        raise typer.BadParameter("use either --namespace or --all-namespaces")
    asyncio.run(_list(namespace, all_namespaces, kubeconfig, output))


def watch(
    name: str,
    namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None,
    timeout: Annotated[
        float, typer.Option(help="Give up after this many seconds (exit 2); 0: never.")
    ] = 0.0,
    interval: Annotated[float, typer.Option(help="Seconds between reads.")] = 1.0,
) -> None:
    """Follow the current phase with a progress bar and ETA until it settles.

    Exit 0 when it Succeeds, 1 when it Fails or is Blocked, 2 on --timeout."""
    asyncio.run(_watch(name, namespace, kubeconfig, timeout, interval))


def _phase(value: str) -> str:
    if value not in PHASES:
        close = difflib.get_close_matches(value, PHASES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise typer.BadParameter(f"unknown phase {value!r}; one of: {', '.join(PHASES)}.{hint}")
    return value


def advance(
    name: str,
    phase: Annotated[str, typer.Argument(help=f"One of: {', '.join(PHASES)}.")],
    namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the operator to settle (0: do not wait).")
    ] = 0.0,
) -> None:
    """Set spec.phase; the API server refuses illegal jumps with the reason."""
    asyncio.run(_advance(name, namespace, _phase(phase), kubeconfig, wait))


def rollback(
    name: str,
    namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for RolledBack=True.")] = 30.0,
) -> None:
    """Roll back at once: the app returns to sqlite_only, running Jobs are deleted."""
    asyncio.run(_advance(name, namespace, "rollback", kubeconfig, wait))


def _reference_counts(validation: dict[str, Any]) -> str:
    """The reference problems of a validation, when it found any."""
    dangling = validation.get("danglingReferences", 0)
    wrong = validation.get("wrongReferences", 0)
    if not dangling and not wrong:
        return ""
    return f", dangling references {dangling}, wrong references {wrong}"


def _read_lines(figures: object) -> list[str]:
    """The read probe's figures; none when absent or not in the shape this dmctl knows."""
    if not figures:
        return []
    try:
        return read_figure_lines(ReadPerformance.model_validate(figures))
    except ValidationError:
        return ["(readPerformance present, in a shape this dmctl does not know)"]
