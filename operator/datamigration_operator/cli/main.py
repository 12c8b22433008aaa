"""dmctl entry point: wires the command groups together."""

from __future__ import annotations

import typer

from datamigration_operator.cli.bench import bench_app
from datamigration_operator.cli.sandbox import sandbox_app

app = typer.Typer(
    name="dmctl",
    help="Migrate an application's data from SQLite to Weaviate with a Kubernetes operator.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(bench_app, name="bench")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
