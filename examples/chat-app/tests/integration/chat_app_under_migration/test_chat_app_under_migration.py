"""The sample app under load while its mode flips as the operator flips it: nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx

from chat_app.loadgen import LoadGenerator, LoadSettings, verify
from chat_app_under_migration.conftest import RunningApp


def _reads_from_weaviate(app: RunningApp) -> float:
    metrics = httpx.get(f"{app.url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("datamigration_dualwrite_reads_total{") and 'source="weaviate"' in line
    )


def _load(app: RunningApp, seconds: float, seed: int) -> tuple[LoadGenerator, threading.Thread]:
    generator = LoadGenerator(LoadSettings(url=app.url, rate=40, duration=seconds, seed=seed))
    thread = threading.Thread(target=lambda: asyncio.run(generator.run()))
    thread.start()
    return generator, thread


def _drained(app: RunningApp) -> None:
    deadline = time.monotonic() + 30
    while app.status()["outboxDepth"] != 0:
        assert time.monotonic() < deadline, app.status()
        time.sleep(0.1)


def _messages(app: RunningApp, conversation: str) -> list[dict[str, object]]:
    response = httpx.get(f"{app.url}/conversations/{conversation}/messages", timeout=10)
    response.raise_for_status()
    rows: list[dict[str, object]] = response.json()
    return rows


def _finished(generator: LoadGenerator, thread: threading.Thread) -> None:
    thread.join(60)
    report = generator.report.summary()
    assert report["failed"] == 0, report["failure_examples"]
    assert report["writes"] > 50


def test_mode_flips_under_load_lose_no_write_and_validate_clean(chat_app: RunningApp) -> None:
    copied = chat_app.engine("copy")  # phase migrate: the copy Job, app in sqlite_only
    assert copied["failed"] == 0
    generator, load = _load(chat_app, 10, seed=3)
    try:
        time.sleep(2)
        chat_app.switch("dual_write")
        synced = chat_app.engine("sync")  # the dual-write phase's sync Job, under load
        assert synced["failed"] == 0
        chat_app.switch("weaviate_primary")
    finally:
        _finished(generator, load)
    # every write the app acknowledged, read back through reads that Weaviate now answers
    _drained(chat_app)
    before = _reads_from_weaviate(chat_app)
    assert asyncio.run(verify(chat_app.url, generator.state)) == []
    assert _reads_from_weaviate(chat_app) > before
    # dates read the same whichever store answers (Weaviate holds them as dates)
    conversation = next(c for c in sorted(generator.state.conversations) if _messages(chat_app, c))
    from_weaviate = _messages(chat_app, conversation)
    chat_app.switch("dual_write")
    from_sqlite = _messages(chat_app, conversation)
    chat_app.switch("weaviate_primary")
    assert from_weaviate == from_sqlite
    assert from_sqlite
    assert all(m["created_at"] for m in from_sqlite)

    # rollback: sqlite_only at once, under load; those writes reach SQLite only
    rollback_load, load = _load(chat_app, 3, seed=4)
    try:
        time.sleep(0.5)
        chat_app.switch("sqlite_only")
    finally:
        _finished(rollback_load, load)
    assert asyncio.run(verify(chat_app.url, rollback_load.state)) == []
    assert asyncio.run(verify(chat_app.url, generator.state)) == []  # nothing lost on the way
    # the catch-up sync closes the gap the rollback left; validation then finds nothing
    _drained(chat_app)
    catch_up = chat_app.engine("sync")
    assert int(str(catch_up["upserted"])) + int(str(catch_up["deleted"])) > 0
    validation = chat_app.engine("validate", "--recheck-delay", "0")
    assert (validation["missing"], validation["extra"], validation["mismatched"]) == (0, 0, 0)
    assert int(str(validation["checked"])) >= 2_000


def test_bad_requests_get_clear_errors_and_change_nothing(chat_app: RunningApp) -> None:
    with httpx.Client(base_url=chat_app.url, timeout=10) as http:
        created = http.post("/conversations", json={"title": "kept"})
        assert created.status_code == 201
        conversation = created.json()["id"]
        refused = [
            http.post("/conversations", json={"title": ""}),
            http.post("/conversations", content=b"not json"),
            http.post(f"/conversations/{conversation}/messages", json={"role": "x", "content": ""}),
            http.post("/conversations/nope/messages", json={"role": "user", "content": "a"}),
            http.patch("/messages/nope", json={"content": "a"}),
            http.get("/documents/search"),
            http.get(f"/conversations/{conversation}/messages?limit=0"),
            http.post("/documents", json={"title": "t", "embedding": []}),
        ]
        assert [r.status_code for r in refused] == [400, 400, 400, 404, 404, 400, 400, 400]
        assert all("error" in r.json() for r in refused)
        assert refused[0].json()["error"] == "title: String should have at least 1 character"
        assert http.get(f"/conversations/{conversation}/messages").json() == []
        assert http.get(f"/conversations/{conversation}").json()["title"] == "kept"


def test_sigterm_drains_unready_and_closes_connections_then_exits(chat_app: RunningApp) -> None:
    """A rolled pod: unready at once, still serving for the shutdown delay, with every response
    ending its keep-alive connection so clients move to the new pod before the port closes."""
    with httpx.Client(base_url=chat_app.url, timeout=10) as http:
        conversation = http.post("/conversations", json={"title": "before"}).json()["id"]
        assert http.get("/readyz").headers.get("connection") != "close"
        chat_app.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while (ready := http.get("/readyz")).status_code == 200:
            assert time.monotonic() < deadline, "the app stayed ready after SIGTERM"
            time.sleep(0.05)
        assert ready.status_code == 503
        served = http.post(
            f"/conversations/{conversation}/messages", json={"role": "user", "content": "late"}
        )
        assert served.status_code == 201  # still serving while traffic moves away
        assert served.headers["connection"] == "close"
    chat_app.process.wait(15)
    assert chat_app.process.returncode == 0
