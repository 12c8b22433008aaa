"""dmctl entry point: wires the command groups together."""

from __future__ import annotations

import warnings

from authlib.deprecate import AuthlibDeprecationWarning

# authlib (pulled in by weaviate-client) forces its deprecation warnings on ("always") when
# imported and then warns about its own httpx module: nothing a dmctl user can act on.
warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)

import typer  # noqa: E402

from datamigration_operator.cli.bench import bench_app  # noqa: E402
from datamigration_operator.cli.operator import operator_app  # noqa: E402
from datamigration_operator.cli.sandbox import sandbox_app  # noqa: E402

app = typer.Typer(
    name="dmctl",
    help="Migrate an application's data from SQLite to Weaviate with a Kubernetes operator.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(bench_app, name="bench")
app.add_typer(operator_app, name="operator")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
