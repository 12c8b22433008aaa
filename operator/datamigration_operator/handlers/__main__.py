"""`python -m datamigration_operator.handlers [OPTIONS]`: the operator process with the options of
`dmctl operator run`, without loading the rest of dmctl (weaviate-client, the sandbox): the
Deployment runs this, which keeps the operator's memory and start-up small."""

from __future__ import annotations

import typer

from datamigration_operator.handlers.command import run

if __name__ == "__main__":
    typer.run(run)
