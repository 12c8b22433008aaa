"""`dmctl bench dualwrite`: what dual-write costs the app, and how fast the outbox drains.

In one run, on a generated GremlinsAI-shaped database and a Weaviate in a subprocess (the
emulator's, or with `--real` one weaviate-server):
- the copy Job's rate (`dmctl copy`, the baseline the drain is compared with);
- app write latency: the sample app's `post_message` (one ORM transaction), in alternating
  blocks of sqlite_only and dual_write so load drift hits both modes alike, the drainer
  running in the app process as in production;
- drain throughput: writes captured with the drainer stopped, then the time a fresh drainer
  takes to empty the outbox into Weaviate.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from prometheus_client import CollectorRegistry

from chat_app.chat_store import ChatStore
from chat_app.models import Message
from chat_app.settings import AppSettings
from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import Endpoint
from datamigration_operator.dualwrite.modes import DEFAULT_KEY, ModeSource
from datamigration_sandbox.cli.bench_migration import (
    BENCH_MIGRATION,
    RealOption,
    Weaviate,
    mapping_file,
    our_copy,
    print_result,
    weaviate_server,
)
from datamigration_sandbox.jobs.atomic_writer import FileProjection, write_payload
from datamigration_sandbox.sample_data import generate_database

BLOCK = 100  # writes per mode before switching to the other
DRAIN_BATCH = 500  # messages per app transaction when filling the outbox


def _store(db: Path, server: Weaviate, volume: Path, registry: CollectorRegistry) -> ChatStore:
    settings = AppSettings(
        database=db,
        migration=BENCH_MIGRATION,
        weaviate=JobTarget(
            http=Endpoint(host="127.0.0.1", port=server.http),
            grpc=Endpoint(host="127.0.0.1", port=server.grpc),
            tls=False,
        ),
    )
    mode = ModeSource(path=volume, registry=CollectorRegistry())
    return ChatStore(settings, mode, registry=registry)


def _set_mode(volume: Path, mode: str) -> None:
    # as the kubelet updates a mounted ConfigMap: an atomic swap, never a half-written file
    write_payload(volume, {DEFAULT_KEY: FileProjection(mode.encode(), 0o644)})


def _switch(store: ChatStore, volume: Path, mode: str) -> None:
    _set_mode(volume, mode)
    if store.mode.refresh() != mode:
        raise RuntimeError(f"the app did not take mode {mode}")


def _percentiles(seconds: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(seconds, n=100)
    return {"p50_ms": round(cuts[49] * 1000, 3), "p99_ms": round(cuts[98] * 1000, 3)}


def write_latency(store: ChatStore, volume: Path, writes: int) -> dict[str, dict[str, float]]:
    # created in dual_write, so Weaviate holds it: a real Weaviate refuses the messages of a
    # conversation it does not hold (in a migration the sync Job copies those)
    _switch(store, volume, "dual_write")
    conversation = str(store.create_conversation("latency")["id"])
    samples: dict[str, list[float]] = {"sqlite_only": [], "dual_write": []}
    while min(len(v) for v in samples.values()) < writes:
        for mode, values in samples.items():
            _switch(store, volume, mode)
            for _ in range(BLOCK):
                started = time.perf_counter()
                store.post_message(conversation, "user", "how fast is a captured write?", 7)
                values.append(time.perf_counter() - started)
    return {mode: _percentiles(values[:writes]) for mode, values in samples.items()}


def _drained(registry: CollectorRegistry) -> float:
    return registry.get_sample_value("datamigration_dualwrite_drained_total") or 0.0


def drain_rate(
    store: ChatStore, volume: Path, entries: int, registry: CollectorRegistry
) -> dict[str, Any]:
    """Entries captured while no drainer runs, then emptied by one drainer."""
    drainer = store.dual_write.drainer
    drainer.stop()
    _switch(store, volume, "dual_write")
    conversation = str(store.create_conversation("drain")["id"])
    for start in range(0, entries, DRAIN_BATCH):
        with store.sessions.begin() as session:
            session.add_all(
                Message(conversation_id=conversation, role="user", content=f"queued {n}")
                for n in range(start, min(entries, start + DRAIN_BATCH))
            )
    depth, _ = store.dual_write.outbox_stats()
    until = _drained(registry) + depth
    started = time.perf_counter()
    drainer.start()
    # the drainer's own count: polling the outbox would compete with the drain it measures
    while _drained(registry) < until:
        if drainer.last_error:
            raise RuntimeError(f"drain failed: {drainer.last_error}")
        time.sleep(0.01)
    if store.dual_write.outbox_stats()[0]:
        raise RuntimeError("the drainer counted more entries than it removed")
    seconds = time.perf_counter() - started
    return {
        "entries": depth,
        "seconds": round(seconds, 3),
        "entries_per_second": round(depth / seconds),
    }


def bench_dualwrite(writes: int, entries: int, rows: int, real: bool = False) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="dmctl-bench-") as tmp,
        weaviate_server(real) as server,
    ):
        directory = Path(tmp)
        db = generate_database(directory / "app.db", rows=rows).path
        copy = our_copy(db, server, mapping_file(directory))
        volume = directory / "config"
        _set_mode(volume, "sqlite_only")
        registry = CollectorRegistry()
        store = _store(db, server, volume, registry).start()
        try:
            latency = write_latency(store, volume, writes)
            drain = drain_rate(store, volume, entries, registry)
        finally:
            store.close()
    return {
        "benchmark": "dualwrite",
        "weaviate": server.kind,
        "writes_per_mode": writes,
        "write_latency": latency,
        "dual_write_vs_sqlite_only_p50": round(
            latency["dual_write"]["p50_ms"] / latency["sqlite_only"]["p50_ms"], 2
        ),
        "drain": drain,
        "copy": copy,
        "drain_vs_copy": round(drain["entries_per_second"] / copy["rows_per_second"], 2),
        "targets": {"dual_write_vs_sqlite_only_p50": 1.5, "drain_vs_copy": 0.5},
    }


def dualwrite_benchmark(
    writes: Annotated[int, typer.Option(min=BLOCK, help="Writes measured per mode.")] = 2_000,
    entries: Annotated[int, typer.Option(min=100, help="Outbox entries to drain.")] = 20_000,
    rows: Annotated[int, typer.Option(min=1_000, max=2_000_000, help="Database rows.")] = 20_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    real: RealOption = False,
) -> None:
    """App write latency in sqlite_only vs dual_write, and drain rate vs the copy Job's."""
    print_result(bench_dualwrite(writes, entries, rows, real), as_json)
