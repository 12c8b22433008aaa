"""`dmctl bench reconcile`: the operator's reaction times and memory on the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def bench_reconcile(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    transitions: Annotated[
        int, typer.Option(min=1, max=100_000, help="spec.phase patches to time.")
    ] = 200,
    datamigrations: Annotated[
        int, typer.Option(min=1, max=5_000, help="DataMigrations the operator serves.")
    ] = 200,
    timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds one transition may take.")
    ] = 30.0,
    entry: Annotated[
        str,
        typer.Option(
            help="Start the operator as `dmctl operator run` (dmctl) or with "
            "`python -m datamigration_operator.handlers` (module)."
        ),
    ] = "dmctl",
    work_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the sandbox data and the operator log here (default: a temp dir)."),
    ] = None,
    app_rollbacks: Annotated[
        int,
        typer.Option(
            min=0,
            max=1_000,
            help="Rollbacks of the sample app's Deployment to time (ConfigMap, every pod).",
        ),
    ] = 10,
) -> None:
    """Time spec.phase patch -> ConfigMap patch -> status, rollback -> RolledBack=True, and the
    operator's RSS idle and with many DataMigrations; then rollbacks of a running app, until
    the ConfigMap flipped and until every app pod runs sqlite_only. Prints targets; never
    fails on them."""
    # Imported here: every dmctl command, `dmctl operator run` included, imports this module,
    # and the sandbox weighs tens of MB the operator's RSS should not carry.
    from datamigration_sandbox.cli.sandbox import default_crd_dir
    from datamigration_sandbox.operator_bench import (
        OPERATOR_COMMANDS,
        ReconcileBenchSettings,
        run_reconcile_benchmark,
    )

    crd_dir = default_crd_dir()
    if crd_dir is None:
        console.print("[red]no crds/ folder found; run from the repository root[/]")
        raise typer.Exit(2)
    if entry not in OPERATOR_COMMANDS:
        raise typer.BadParameter(f"--entry must be one of {', '.join(OPERATOR_COMMANDS)}")
    settings = ReconcileBenchSettings(transitions, datamigrations, timeout, entry=entry)
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    result = run_reconcile_benchmark(settings, crd_dir, work_dir)
    if app_rollbacks:
        from datamigration_sandbox.rollback_bench import run_rollback_benchmark

        app = run_rollback_benchmark(app_rollbacks, None if work_dir is None else work_dir / "app")
        result["app_rollback"] = app
        result["targets"].update(app["targets"])
    if as_json:
        print(json.dumps(result, indent=2))
        return
    _print_table(result)


def _print_table(result: dict[str, Any]) -> None:
    table = Table(title="Operator reconcile")
    table.add_column("measure")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("count", justify="right")
    for label, key in (
        ("spec.phase patch -> ConfigMap", "patch_to_configmap"),
        ("spec.phase patch -> status", "patch_to_status"),
        ("rollback -> RolledBack=True", "rollback_to_rolled_back"),
    ):
        row = result[key]
        table.add_row(label, str(row["p50_ms"]), str(row["p99_ms"]), str(row["count"]))
    app = result.get("app_rollback")
    if app is not None:
        for label, key in (
            ("app rollback -> ConfigMap sqlite_only", "rollback_to_configmap"),
            ("app rollback -> every pod sqlite_only", "rollback_to_every_pod"),
        ):
            row = app[key]
            table.add_row(label, str(row["p50_ms"]), str(row["p99_ms"]), str(row["count"]))
    console.print(table)
    done = result["transitions"]
    console.print(f"transitions completed: {done['completed']}/{done['requested']}")
    rss = result["operator_rss_mb"]
    console.print(f"operator RSS: idle {rss['idle']} MB, loaded {rss['loaded']} MB")
    for name, target in result["targets"].items():
        verdict = "[green]met[/]" if target["met"] else "[red]missed[/]"
        console.print(f"  {name}: {target['value']} (target {target['target']}) {verdict}")
