"""`dmctl bench`: benchmarks that print figures (ratios against a baseline from the same run)."""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from datamigration_sandbox.benchmark import BenchSettings, run_kube_benchmark
from datamigration_sandbox.cli.bench_dualwrite import dualwrite_benchmark
from datamigration_sandbox.cli.bench_migration import copy_benchmark, validate_benchmark
from datamigration_sandbox.cli.bench_reads import reads_benchmark
from datamigration_sandbox.cli.bench_reconcile import bench_reconcile
from datamigration_sandbox.cli.sandbox import start_background, stop_process

bench_app = typer.Typer(
    add_completion=False, help="Benchmarks; each prints its figures (use --json for machines)."
)
bench_app.command("reconcile")(bench_reconcile)
bench_app.command("copy")(copy_benchmark)
bench_app.command("validate")(validate_benchmark)
bench_app.command("dualwrite")(dualwrite_benchmark)
bench_app.command("reads")(reads_benchmark)
console = Console()


def _credentials(kubeconfig: Path) -> tuple[str, str]:
    """The admin token and the CA (PEM) the sandbox wrote into its kubeconfig."""
    config = yaml.safe_load(kubeconfig.read_text())
    token: str = config["users"][0]["user"]["token"]
    ca_pem = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    return token, ca_pem.decode()


@bench_app.command("sandbox")
def bench_sandbox(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    requests: Annotated[int, typer.Option(min=100, help="Requests per measurement.")] = 2000,
    concurrency: Annotated[int, typer.Option(min=1, max=256)] = 16,
    watchers: Annotated[int, typer.Option(min=1, max=500)] = 50,
    events: Annotated[int, typer.Option(min=1, max=1000)] = 40,
) -> None:
    """Requests/s for GET and PATCH and watch fan-out latency of the Kubernetes API emulator."""
    settings = BenchSettings(requests, concurrency, watchers, events)
    with tempfile.TemporaryDirectory(prefix="dmctl-bench-") as tmp:
        data_dir = Path(tmp)
        info = start_background(data_dir)
        try:
            token, ca_pem = _credentials(Path(info.kubeconfig))
            result = asyncio.run(run_kube_benchmark(info.kube_url, token, ca_pem, settings))
        finally:
            stop_process(info.pid, data_dir)
    if as_json:
        print(json.dumps({"benchmark": "sandbox", **result}, indent=2))
        return
    table = Table(title="Kubernetes API emulator")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("GET /version (baseline) req/s", str(result["baseline_version_rps"]))
    table.add_row("GET configmap req/s", f"{result['get_rps']} ({result['get_vs_baseline']}x)")
    table.add_row(
        "PATCH configmap req/s", f"{result['patch_rps']} ({result['patch_vs_baseline']}x)"
    )
    fan = result["watch_fanout"]
    table.add_row(
        f"watch fan-out to {fan['watchers']} watchers",
        f"p50 {fan['p50_ms']} ms, p99 {fan['p99_ms']} ms",
    )
    console.print(table)
