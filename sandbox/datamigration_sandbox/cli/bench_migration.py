"""`dmctl bench copy|validate --rows N`: the migration engine against its baselines, in one run.

Everything runs on the same generated GremlinsAI-shaped database and one Weaviate in a
subprocess (client and server do not share a GIL): the emulator's, or with `--real` one
weaviate-server built from its Go module (scripts/build-servers.sh builds it once):
- raw SQLite read rate (sqlite3, every table in key order);
- bare weaviate-client ingest: insert_many of the same objects, built beforehand, only the calls
  timed (the client-side ceiling);
- our copy: `dmctl copy` as a subprocess, end to end (snapshot, planning, reading, mapping,
  writing), with its peak RSS sampled by psutil;
- naive copy in the style of the scripts we replace: ORM objects, one insert per object, on a
  sample, rate extrapolated;
- validate: `dmctl validate` as a subprocess over what our copy wrote, with its peak RSS
  (the process and its children: the SQLite side runs in a child process).
Client CPU per row: the bare client's is this process's CPU time during its insert_many calls
only; the copy's is its whole process tree (snapshot, reading, mapping, writing). The server's
CPU per row is read from its process over the same spans.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import psutil
import typer
import yaml
from sqlalchemy import Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from weaviate.exceptions import UnexpectedStatusCodeError

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import Endpoint
from datamigration_operator.migration.mapping import ObjectBuilder, plan_collections
from datamigration_operator.migration.sink.weaviate_sink import (
    connect,
    ensure_collections,
    to_data_object,
)
from datamigration_operator.migration.source.sqlite_source import SqliteSource
from datamigration_sandbox.sample_data import generate_database, sample_collections

# ~4 s of one-by-one inserts: a 1,000-row sample swung by +-20% between runs
NAIVE_SAMPLE = 5_000
BATCH = 500
_SERVER = """
import asyncio, json
from datamigration_operator.quiet_authlib import quiet_authlib
quiet_authlib()
from datamigration_sandbox.weaviate.server import WeaviateServer
async def main():
    server = WeaviateServer()
    http_port, grpc_port = await server.start()
    print(json.dumps({"http": http_port, "grpc": grpc_port}), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


class NaiveBase(DeclarativeBase):
    pass


class NaiveMessage(NaiveBase):
    """The ORM model a hand-written migration script would declare."""

    __tablename__ = "messages"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(String)
    content: Mapped[str] = mapped_column(String)
    tokens: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String)


RowsOption = Annotated[int, typer.Option("--rows", min=1_000, max=2_000_000)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
RealOption = Annotated[
    bool,
    typer.Option(
        "--real",
        help="Against one real weaviate-server (built by scripts/build-servers.sh) instead "
        "of the emulator.",
    ),
]


@dataclass
class Weaviate:
    http: int
    grpc: int
    pid: int | None = None
    kind: str = "emulator"

    def server_cpu(self) -> float:
        """CPU seconds the server process used so far (user + system)."""
        if self.pid is None:
            return 0.0
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http}"

    def client(self) -> Any:
        target = JobTarget(
            http=Endpoint(host="127.0.0.1", port=self.http),
            grpc=Endpoint(host="127.0.0.1", port=self.grpc),
            tls=False,
        )
        return connect(target, None)


def _quiet_env() -> dict[str, str]:
    # weaviate-client asks PyPI for its latest version at connect; keep everything on loopback
    return {
        **os.environ,
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


@contextmanager
def weaviate_server(real: bool = False) -> Iterator[Weaviate]:
    if real:
        from datamigration_sandbox.real.weaviate_node import WeaviateNode

        with (
            tempfile.TemporaryDirectory(prefix="dmctl-bench-weaviate-") as data,
            WeaviateNode(Path(data)) as node,
        ):
            yield Weaviate(node.http_port, node.grpc_port, node.pid, f"weaviate {node.version}")
        return
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, env=_quiet_env()
    )
    try:
        assert process.stdout is not None
        ports = json.loads(process.stdout.readline())
        yield Weaviate(ports["http"], ports["grpc"], process.pid)
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def sqlite_read_rate(path: Path) -> float:
    connection = sqlite3.connect(path)
    try:
        started = time.perf_counter()
        rows = 0
        for table in ("conversations", "messages", "documents"):
            for _ in connection.execute(f"SELECT * FROM {table} ORDER BY id"):
                rows += 1
        return rows / (time.perf_counter() - started)
    finally:
        connection.close()


@dataclass
class Ingest:
    objects_per_second: float
    client_cpu_seconds: float
    server_cpu_seconds: float
    count: int


def bare_ingest(path: Path, weaviate: Weaviate, namespace: str) -> Ingest:
    """insert_many of prebuilt objects, one call at a time; only the calls are timed (and
    their client CPU counted)."""
    client = weaviate.client()
    source = SqliteSource(path, snapshot=False)
    try:
        plans = plan_collections(sample_collections(), source.tables())
        ensure_collections(client, plans, owner=namespace)
        elapsed = 0.0
        cpu = 0.0
        server_before = weaviate.server_cpu()
        count = 0
        for plan in plans:
            build = ObjectBuilder(plan, migration_namespace=namespace).build
            collection = client.collections.get(plan.collection)
            for rows in source.rows(plan, batch_size=BATCH):
                data = [to_data_object(build(row)) for row in rows]
                started, cpu_started = time.perf_counter(), time.process_time()
                result = collection.data.insert_many(data)
                elapsed += time.perf_counter() - started
                cpu += time.process_time() - cpu_started
                if result.errors:
                    raise RuntimeError(f"bare ingest: {len(result.errors)} objects failed")
                count += len(data)
        server = weaviate.server_cpu() - server_before
        client.collections.delete_all()
        return Ingest(count / elapsed, cpu, server, count)
    finally:
        source.close()
        client.close()


def naive_copy(path: Path, weaviate: Weaviate) -> tuple[float, int]:
    """ORM objects, one insert per object, as the scripts we replace do, logging and dropping
    what Weaviate refuses; on NAIVE_SAMPLE rows: (objects per second, objects dropped). Nulls
    are left out: Weaviate's auto-schema would type a first null `tokens` as text and refuse
    every number after it (86% of the sample dropped, fast, on weaviate-server 1.35.2)."""
    client = weaviate.client()
    engine = create_engine(f"sqlite:///{path}")
    try:
        collection = client.collections.get("NaiveMessage")
        if not client.collections.exists("NaiveMessage"):
            client.collections.create_from_dict({"class": "NaiveMessage", "vectorizer": "none"})
        started = time.perf_counter()
        with Session(engine) as session:
            statement = select(NaiveMessage).limit(NAIVE_SAMPLE)
            count = dropped = 0
            for message in session.scalars(statement):
                try:
                    properties = {
                        "message_id": message.id,
                        "conversation_id": message.conversation_id,
                        "role": message.role,
                        "content": message.content,
                        "tokens": message.tokens,
                        "created_at": message.created_at,
                    }
                    collection.data.insert({k: v for k, v in properties.items() if v is not None})
                except UnexpectedStatusCodeError:
                    dropped += 1
                count += 1
        rate = count / (time.perf_counter() - started)
        client.collections.delete("NaiveMessage")
        return rate, dropped
    finally:
        engine.dispose()
        client.close()


def _tree_rss(handle: psutil.Process) -> int:
    """RSS of the process and its children (validation indexes SQLite in a child process)."""
    total = handle.memory_info().rss
    for child in handle.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(argv: list[str]) -> tuple[dict[str, Any], int, float]:
    """Runs a dmctl command as a subprocess; its JSON output, the peak RSS in bytes of it and
    its children together, and their CPU seconds (user + system)."""
    cpu_before = _children_cpu()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, env=_quiet_env())
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        handle = psutil.Process(process.pid)
        while not done.is_set():
            try:
                peak = max(peak, _tree_rss(handle))
            except psutil.NoSuchProcess:
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} exited {process.returncode}: {out[-2000:]!r}")
    return json.loads(out), peak, _children_cpu() - cpu_before


def _dmctl() -> list[str]:
    return [sys.executable, "-m", "datamigration_operator.cli.main"]


# The id namespace of every benchmark writer (a collection belongs to one): the copy, the bare
# client and the dual-write app write the same objects.
BENCH_MIGRATION = "bench/migration"


def _common(db: Path, weaviate: Weaviate, mapping: Path) -> list[str]:
    return [
        "--sqlite",
        str(db),
        "--weaviate",
        weaviate.url,
        "--grpc-port",
        str(weaviate.grpc),
        "--mapping",
        str(mapping),
        "--namespace",
        BENCH_MIGRATION,
        "--json",
    ]


def mapping_file(directory: Path) -> Path:
    path = directory / "mapping.yaml"
    collections = [
        m.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        for m in sample_collections()
    ]
    path.write_text(yaml.safe_dump({"collections": collections}))
    return path


def our_copy(db: Path, weaviate: Weaviate, mapping: Path) -> dict[str, Any]:
    server_before = weaviate.server_cpu()
    summary, peak, cpu = run_measured([*_dmctl(), "copy", *_common(db, weaviate, mapping)])
    server = weaviate.server_cpu() - server_before
    return {
        "rows": summary["rows"],
        "seconds": summary["seconds"],
        "rows_per_second": round(summary["rows"] / summary["seconds"]),
        "failed": summary["failed"],
        "peak_rss_mb": round(peak / 2**20, 1),
        "client_cpu_us_per_row": round(cpu / summary["rows"] * 1e6, 1),
        "server_cpu_us_per_row": round(server / summary["rows"] * 1e6, 1),
    }


def our_validate(db: Path, weaviate: Weaviate, mapping: Path) -> dict[str, Any]:
    # the diff's rate alone: `dmctl bench reads` measures the read probe
    argv = [*_dmctl(), "validate", *_common(db, weaviate, mapping), "--recheck-delay", "0"]
    argv.append("--no-read-probe")
    server_before = weaviate.server_cpu()
    summary, peak, cpu = run_measured(argv)
    server = weaviate.server_cpu() - server_before
    return {
        "checked": summary["checked"],
        "differences": summary["missing"] + summary["extra"] + summary["mismatched"],
        "seconds": summary["seconds"],
        "rows_per_second": round(summary["checked"] / summary["seconds"]),
        "peak_rss_mb": round(peak / 2**20, 1),
        "client_cpu_us_per_row": round(cpu / summary["checked"] * 1e6, 1),
        "server_cpu_us_per_row": round(server / summary["checked"] * 1e6, 1),
    }


def bench_copy(rows: int, real: bool = False) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="dmctl-bench-") as tmp,
        weaviate_server(real) as server,
    ):
        directory = Path(tmp)
        db = generate_database(directory / "app.db", rows=rows).path
        mapping = mapping_file(directory)
        read = sqlite_read_rate(db)
        bare = bare_ingest(db, server, BENCH_MIGRATION)
        naive, naive_dropped = naive_copy(db, server)
        copy = our_copy(db, server, mapping)
    bare_cpu = bare.client_cpu_seconds / bare.count * 1e6
    return {
        "benchmark": "copy",
        "weaviate": server.kind,
        "rows": rows,
        "sqlite_read_rows_per_second": round(read),
        "bare_insert_many_objects_per_second": round(bare.objects_per_second),
        "bare_client_cpu_us_per_row": round(bare_cpu, 1),
        "bare_server_cpu_us_per_row": round(bare.server_cpu_seconds / bare.count * 1e6, 1),
        "naive_orm_one_by_one_objects_per_second": round(naive, 1),
        "naive_dropped_of_sample": [naive_dropped, NAIVE_SAMPLE],
        "copy": copy,
        "copy_vs_bare": round(copy["rows_per_second"] / bare.objects_per_second, 3),
        "copy_vs_naive": round(copy["rows_per_second"] / naive, 1),
        "copy_client_cpu_per_row_vs_bare": round(copy["client_cpu_us_per_row"] / bare_cpu, 2),
        "targets": {"copy_vs_bare": 0.9, "copy_vs_naive": 20},
    }


def bench_validate(rows: int, real: bool = False) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="dmctl-bench-") as tmp,
        weaviate_server(real) as server,
    ):
        directory = Path(tmp)
        db = generate_database(directory / "app.db", rows=rows).path
        mapping = mapping_file(directory)
        copy = our_copy(db, server, mapping)
        validate = our_validate(db, server, mapping)
    return {
        "benchmark": "validate",
        "weaviate": server.kind,
        "rows": rows,
        "copy": copy,
        "validate": validate,
        "validate_vs_copy": round(validate["rows_per_second"] / copy["rows_per_second"], 2),
        "targets": {"validate_rows_per_second": 50_000, "validate_vs_copy": 2.0},
    }


def print_result(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print(yaml.safe_dump(result, sort_keys=False))


def copy_benchmark(
    rows: RowsOption = 100_000, as_json: JsonOption = False, real: RealOption = False
) -> None:
    """Copy rate vs raw SQLite reads, bare insert_many and a naive one-by-one ORM copy."""
    print_result(bench_copy(rows, real), as_json)


def validate_benchmark(
    rows: RowsOption = 100_000, as_json: JsonOption = False, real: RealOption = False
) -> None:
    """Validation rate and peak RSS vs the copy rate, on what the copy wrote."""
    print_result(bench_validate(rows, real), as_json)
