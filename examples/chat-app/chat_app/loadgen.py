"""A load generator for the chat service: a steady rate of writes and reads over HTTP.

Open loop (a request starts every 1/rate seconds whatever the latency, as real users do), with
a mix of creates, messages, edits, deletes and reads. It remembers what each acknowledged write
left behind, so `verify` can check afterwards that every one of them is there: during a
migration no write the app acknowledged may be lost, whatever mode the app was in.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp

# (operation, weight); writes dominate, as in a chat app under migration
MIX: Final = (
    ("create_conversation", 8),
    ("post_message", 50),
    ("edit_message", 12),
    ("delete_message", 6),
    ("delete_conversation", 2),
    ("add_document", 4),
    ("read_messages", 12),
    ("search_documents", 6),
)
WRITES: Final = frozenset(op for op, _ in MIX if not op.startswith(("read", "search")))


@dataclass
class LoadSettings:
    url: str
    rate: float = 100.0
    duration: float = 10.0
    max_in_flight: int = 64
    seed: int = 1
    timeout: float = 10.0


@dataclass
class AppState:
    """What the acknowledged writes left: message id -> (conversation, content).

    A write whose request went out but whose answer never came (the pod died or closed the
    connection mid-request) is in doubt: the app may have applied it or not, so `verify`
    accepts either outcome for it, and nothing else."""

    conversations: set[str] = field(default_factory=set)
    messages: dict[str, tuple[str, str]] = field(default_factory=dict)
    deleted_conversations: set[str] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)
    edits_in_doubt: dict[str, set[str]] = field(default_factory=dict)
    """message id -> contents it may have instead of the acknowledged one"""
    deletes_in_doubt: dict[str, tuple[str, set[str]]] = field(default_factory=dict)
    """message id -> (conversation, contents): present with one of them, or gone"""
    posts_in_doubt: dict[str, set[str]] = field(default_factory=dict)
    """conversation -> contents of messages that may exist (their ids never came back)"""
    conversation_deletes_in_doubt: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    """conversation -> its messages' possible contents: all there, or the conversation gone"""

    def possible_contents(self, message: str) -> set[str]:
        """The acknowledged content of a message, and the ones edits in doubt may have left."""
        return {self.messages[message][1], *self.edits_in_doubt.get(message, ())}


class WriteInDoubtError(Exception):
    """A write request went out and no answer came back: it may or may not have been applied."""


@asynccontextmanager
async def _answered(
    request: AbstractAsyncContextManager[aiohttp.ClientResponse],
) -> AsyncIterator[aiohttp.ClientResponse]:
    """The response of a write; WriteInDoubtError when the request may have reached the app
    unanswered (a refused connection means it never left: a plain failure)."""
    try:
        async with request as response:
            yield response
    except aiohttp.ClientConnectorError:
        raise
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise WriteInDoubtError(f"{type(exc).__name__}: {exc}") from exc


@dataclass
class LoadReport:
    requests: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    failure_examples: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def record(self, op: str, seconds: float, error: str | None) -> None:
        self.requests[op] += 1
        if error is None:
            self.latencies.setdefault(op, []).append(seconds)
            return
        self.failures[op] += 1
        if len(self.failure_examples) < 10:
            self.failure_examples.append(f"{op}: {error}")

    def summary(self) -> dict[str, Any]:
        writes = [s for op, values in self.latencies.items() if op in WRITES for s in values]
        return {
            "seconds": round(self.seconds, 2),
            "requests": sum(self.requests.values()),
            "writes": sum(n for op, n in self.requests.items() if op in WRITES),
            "failed": sum(self.failures.values()),
            "failed_writes": sum(n for op, n in self.failures.items() if op in WRITES),
            "by_operation": dict(sorted(self.requests.items())),
            "failures": dict(sorted(self.failures.items())),
            "failure_examples": self.failure_examples,
            "write_latency_ms": _percentiles(writes),
        }


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {}
    cuts = statistics.quantiles(values, n=100)
    return {"p50": round(cuts[49] * 1000, 2), "p99": round(cuts[98] * 1000, 2)}


class LoadGenerator:
    def __init__(self, settings: LoadSettings) -> None:
        if settings.rate <= 0 or settings.duration <= 0:
            raise ValueError("rate and duration must be positive")
        self.settings = settings
        self.state = AppState()
        self.report = LoadReport()
        self._rng = random.Random(settings.seed)
        self._ops = [op for op, _ in MIX]
        self._weights = [weight for _, weight in MIX]
        self._counter = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ends the run early (thread-safe); requests in flight still complete."""
        self._stop.set()

    async def run(self) -> LoadReport:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        limit = asyncio.Semaphore(self.settings.max_in_flight)
        # Idle connections are dropped after 1 s, well within the app's shutdown delay (5 s
        # serving after SIGTERM): none is still pooled when a rolled pod closes it.
        connector = aiohttp.TCPConnector(keepalive_timeout=1.0)
        async with aiohttp.ClientSession(
            self.settings.url, timeout=timeout, connector=connector
        ) as http:
            tasks: set[asyncio.Task[None]] = set()
            started = time.monotonic()
            interval = 1.0 / self.settings.rate
            issued = 0
            while (elapsed := time.monotonic() - started) < self.settings.duration:
                if self._stop.is_set():
                    break
                due = int(elapsed / interval) + 1
                while issued < due:
                    issued += 1
                    await limit.acquire()
                    task = asyncio.create_task(self._one(http, limit))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await asyncio.sleep(max(0.0, issued * interval - (time.monotonic() - started)))
            if tasks:
                await asyncio.gather(*tasks)
            self.report.seconds = time.monotonic() - started
        return self.report

    async def _one(self, http: aiohttp.ClientSession, limit: asyncio.Semaphore) -> None:
        try:
            op = self._rng.choices(self._ops, self._weights)[0]
            action = getattr(self, f"_{op}")
            started = time.perf_counter()
            try:
                error = await action(http)
            except WriteInDoubtError as exc:
                error = f"{exc} (outcome unknown)"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            if error != "skipped":
                self.report.record(op, time.perf_counter() - started, error)
        finally:
            limit.release()

    # --- operations: each returns None on success, an error text, or "skipped" --------------

    def _pick(self, pool: list[str]) -> str | None:
        free = [item for item in pool if item not in self.state.busy]
        return self._rng.choice(free) if free else None

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    async def _create_conversation(self, http: aiohttp.ClientSession) -> str | None:
        body = {"title": f"load conversation {self._next()}", "user_id": "load"}
        async with http.post("/conversations", json=body) as response:
            if response.status != 201:
                return f"{response.status} {await response.text()}"
            self.state.conversations.add((await response.json())["id"])
        return None

    async def _post_message(self, http: aiohttp.ClientSession) -> str | None:
        conversation = self._pick(sorted(self.state.conversations))
        if conversation is None:
            return await self._create_conversation(http)
        content = f"message {self._next()} about vector search"
        body = {"role": "user", "content": content, "tokens": len(content)}
        self.state.busy.add(conversation)
        try:
            posted = http.post(f"/conversations/{conversation}/messages", json=body)
            async with _answered(posted) as response:
                if response.status != 201:
                    return f"{response.status} {await response.text()}"
                self.state.messages[(await response.json())["id"]] = (conversation, content)
        except WriteInDoubtError:
            self.state.posts_in_doubt.setdefault(conversation, set()).add(content)
            raise
        finally:
            self.state.busy.discard(conversation)
        return None

    async def _edit_message(self, http: aiohttp.ClientSession) -> str | None:
        message = self._pick(list(self.state.messages))
        if message is None:
            return "skipped"
        content = f"edited {self._next()}"
        self.state.busy.add(message)
        try:
            edited = http.patch(f"/messages/{message}", json={"content": content})
            async with _answered(edited) as response:
                if response.status != 200:
                    return f"{response.status} {await response.text()}"
                conversation, _ = self.state.messages[message]
                self.state.messages[message] = (conversation, content)
                self.state.edits_in_doubt.pop(message, None)  # this edit replaced them
        except WriteInDoubtError:
            self.state.edits_in_doubt.setdefault(message, set()).add(content)
            raise
        finally:
            self.state.busy.discard(message)
        return None

    async def _delete_message(self, http: aiohttp.ClientSession) -> str | None:
        message = self._pick(list(self.state.messages))
        if message is None:
            return "skipped"
        self.state.busy.add(message)
        try:
            async with _answered(http.delete(f"/messages/{message}")) as response:
                if response.status != 204:
                    return f"{response.status} {await response.text()}"
                del self.state.messages[message]
                self.state.edits_in_doubt.pop(message, None)
        except WriteInDoubtError:
            # no further write touches it: present as it was, or gone
            contents = self.state.possible_contents(message)
            conversation, _ = self.state.messages.pop(message)
            self.state.edits_in_doubt.pop(message, None)
            self.state.deletes_in_doubt[message] = (conversation, contents)
            raise
        finally:
            self.state.busy.discard(message)
        return None

    async def _delete_conversation(self, http: aiohttp.ClientSession) -> str | None:
        conversation = self._pick(sorted(self.state.conversations))
        if conversation is None:
            return "skipped"
        children = [m for m, (c, _) in self.state.messages.items() if c == conversation]
        if any(m in self.state.busy for m in children):
            return "skipped"
        self.state.busy.update([conversation, *children])
        try:
            async with _answered(http.delete(f"/conversations/{conversation}")) as response:
                if response.status != 204:
                    return f"{response.status} {await response.text()}"
                self.state.conversations.discard(conversation)
                self.state.deleted_conversations.add(conversation)
                for message in children:
                    del self.state.messages[message]
        except WriteInDoubtError:
            # no further write touches it: whole as it was, or gone
            self.state.conversations.discard(conversation)
            kept = {m: self.state.possible_contents(m) for m in children}
            for message in children:
                del self.state.messages[message]
                self.state.edits_in_doubt.pop(message, None)
            self.state.conversation_deletes_in_doubt[conversation] = kept
            raise
        finally:
            self.state.busy.difference_update([conversation, *children])
        return None

    async def _add_document(self, http: aiohttp.ClientSession) -> str | None:
        number = self._next()
        body = {
            "title": f"load document {number}",
            "content": f"notes on migration step {number}",
            "content_type": "text/plain",
            "tags": ["load"],
            "embedding": [self._rng.uniform(-1, 1) for _ in range(8)],
        }
        async with http.post("/documents", json=body) as response:
            return None if response.status == 201 else f"{response.status}"

    async def _read_messages(self, http: aiohttp.ClientSession) -> str | None:
        conversation = self._pick(sorted(self.state.conversations))
        if conversation is None:
            return "skipped"
        async with http.get(f"/conversations/{conversation}/messages?limit=50") as response:
            return None if response.status == 200 else f"{response.status}"

    async def _search_documents(self, http: aiohttp.ClientSession) -> str | None:
        async with http.get("/documents/search?q=migration&limit=5") as response:
            return None if response.status == 200 else f"{response.status}"


def listing_problems(state: AppState, conversation: str, found: dict[str, str]) -> list[str]:
    """What is wrong with a conversation's messages as listed (`found`: id -> content), given
    the writes acknowledged and those in doubt."""
    problems: list[str] = []
    must = {
        m: state.possible_contents(m) for m, (c, _) in state.messages.items() if c == conversation
    }
    must.update(state.conversation_deletes_in_doubt.get(conversation, {}))
    may = {m: contents for m, (c, contents) in state.deletes_in_doubt.items() if c == conversation}
    posted = state.posts_in_doubt.get(conversation, set())
    for message, contents in must.items():
        if found.get(message) not in contents:
            expected = state.messages[message][1] if message in state.messages else contents
            problems.append(f"message {message}: expected {expected!r}, got {found.get(message)!r}")
    for message, content in found.items():
        if message in must:
            continue
        if message in may:
            if content not in may[message]:
                problems.append(f"message {message}: delete in doubt, but content {content!r}")
        elif content not in posted:
            problems.append(f"message {message}: deleted, but still listed")
    return problems


async def verify(url: str, state: AppState, *, request_timeout: float = 30.0) -> list[str]:
    """Every acknowledged write, read back through the API: returns what is missing or wrong.
    A write in doubt may show either outcome; a conversation whose delete is in doubt may be
    gone, or there whole."""
    problems: list[str] = []
    conversations = {
        *state.conversations,
        *(c for c, _ in state.messages.values()),
        *state.conversation_deletes_in_doubt,
    }
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(url, timeout=client_timeout) as http:
        for conversation in sorted(conversations):
            async with http.get(f"/conversations/{conversation}/messages?limit=10000") as response:
                if response.status == 404 and conversation in state.conversation_deletes_in_doubt:
                    continue
                if response.status != 200:
                    problems.append(f"conversation {conversation}: HTTP {response.status}")
                    continue
                found = {row["id"]: row["content"] for row in await response.json()}
            problems += listing_problems(state, conversation, found)
        for conversation in state.deleted_conversations:
            async with http.get(f"/conversations/{conversation}") as response:
                if response.status != 404:
                    problems.append(
                        f"conversation {conversation}: deleted, but HTTP {response.status}"
                    )
    return problems
