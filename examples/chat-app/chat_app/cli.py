"""`dmctl sample-app serve|load`: the sample chat service and its load generator."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated

import typer

sample_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The sample chat-history service (dual-write) and a load generator for it.",
)


@sample_app.command("serve")
def serve_command() -> None:
    """Serve the chat API; configured by environment variables (see chat_app/settings.py):
    CHAT_DATABASE, CHAT_LISTEN, DATAMIGRATION_NAME, WEAVIATE_HTTP, WEAVIATE_GRPC,
    WEAVIATE_API_KEY, DATAMIGRATION_MODE_FILE or DATAMIGRATION_MODE."""
    from chat_app.serve import serve
    from chat_app.settings import AppSettings, SettingsError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = AppSettings.from_env()
    except SettingsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    asyncio.run(serve(settings))


@sample_app.command("load")
def load_command(
    url: Annotated[str, typer.Option(help="The chat service, e.g. http://127.0.0.1:8080")],
    rate: Annotated[float, typer.Option(min=0.1, max=10_000, help="Requests per second.")] = 100,
    duration: Annotated[float, typer.Option(min=0.1, help="Seconds to run.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the operation mix.")] = 1,
    check: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Read every acknowledged write back.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Writes and reads at a steady rate; exits 1 if a request failed or a write is missing."""
    from chat_app.loadgen import LoadGenerator, LoadSettings, verify

    generator = LoadGenerator(LoadSettings(url=url, rate=rate, duration=duration, seed=seed))
    summary = asyncio.run(generator.run()).summary()
    problems = asyncio.run(verify(url, generator.state)) if check else []
    summary["verified"] = check
    summary["missing_or_wrong"] = len(problems)
    summary["problems"] = problems[:10]
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        latency = summary["write_latency_ms"]
        typer.echo(
            f"{summary['requests']} requests ({summary['writes']} writes) "
            f"in {summary['seconds']} s, "
            f"{summary['failed']} failed; write latency p50 {latency.get('p50')} ms, "
            f"p99 {latency.get('p99')} ms"
        )
        if check:
            typer.echo(
                f"verified: {summary['missing_or_wrong']} acknowledged writes missing or wrong"
            )
        for line in [*summary["failure_examples"], *problems[:10]]:
            typer.echo(f"  {line}")
    if summary["failed"] or problems:
        raise typer.Exit(1)
