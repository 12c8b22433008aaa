"""Throughput and latency of the Kubernetes API emulator, measured over real HTTP.

The client runs in this process and the sandbox in another (`dmctl sandbox serve`), so client and
server do not share one interpreter lock. `GET /version` (routing, auth, JSON, no store) is the
baseline every figure is compared with in the same run.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

NAMESPACE = "bench"
CONFIGMAP = "bench-target"
CM_PATH = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
ROUNDS = 3


@dataclass(frozen=True)
class BenchSettings:
    requests: int = 2000
    concurrency: int = 16
    watchers: int = 50
    events: int = 40


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile; `fraction` in [0, 1]."""
    ordered = sorted(samples)
    rank = max(1, round(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


async def _rate(total: int, concurrency: int, request: Callable[[int], Awaitable[None]]) -> float:
    """Requests per second for `total` calls of `request(i)` spread over `concurrency` workers."""
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            await request(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def _expect(response: aiohttp.ClientResponse, *codes: int) -> dict[str, Any]:
    body: dict[str, Any] = await response.json()
    if response.status not in codes:
        raise RuntimeError(f"{response.method} {response.url}: {response.status} {body}")
    return body


async def _watch_fanout(
    session: aiohttp.ClientSession, base: str, settings: BenchSettings
) -> dict[str, Any]:
    """Latency from a PATCH being sent to each of N watchers receiving its MODIFIED event."""
    cm = await _expect(await session.get(f"{base}{CM_PATH}/{CONFIGMAP}"), 200)
    since = cm["metadata"]["resourceVersion"]
    received: list[dict[int, float]] = [{} for _ in range(settings.watchers)]
    fanned_out = [asyncio.Event() for _ in range(settings.events)]
    arrivals = [0] * settings.events
    ready = asyncio.Event()
    opened = 0

    async def watcher(index: int) -> None:
        nonlocal opened
        url = (
            f"{base}{CM_PATH}?watch=1&resourceVersion={since}"
            f"&fieldSelector=metadata.name%3D{CONFIGMAP}"
        )
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as response:
            opened += 1
            if opened == settings.watchers:
                ready.set()
            async for line in response.content:
                event = json.loads(line)
                seq = int(event["object"].get("data", {}).get("seq", "-1"))
                if seq < 0 or seq in received[index]:
                    continue
                received[index][seq] = time.perf_counter()
                arrivals[seq] += 1
                if arrivals[seq] == settings.watchers:
                    fanned_out[seq].set()
                if seq == settings.events - 1:
                    return

    tasks = [asyncio.create_task(watcher(i)) for i in range(settings.watchers)]
    await asyncio.wait_for(ready.wait(), 30)
    await asyncio.sleep(0.2)  # let every watch register on the server before the first event
    sent: dict[int, float] = {}
    for seq in range(settings.events):
        sent[seq] = time.perf_counter()
        patch = session.patch(
            f"{base}{CM_PATH}/{CONFIGMAP}",
            data=json.dumps({"data": {"seq": str(seq)}}),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        await _expect(await patch, 200)
        # Wait for the fan-out of this event before sending the next: latency, not queueing.
        await asyncio.wait_for(fanned_out[seq].wait(), 10)
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    latencies = [(r[seq] - sent[seq]) * 1000 for r in received for seq in sent if seq in r]
    expected = settings.watchers * settings.events
    return {
        "watchers": settings.watchers,
        "events": settings.events,
        "delivered": len(latencies),
        "expected": expected,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
    }


async def run_kube_benchmark(
    base: str, token: str, ca_pem: str, settings: BenchSettings
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    connector = aiohttp.TCPConnector(
        limit=settings.concurrency + settings.watchers + 4,
        ssl=ssl.create_default_context(cadata=ca_pem),
    )
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        await _expect(
            await session.post(
                f"{base}/api/v1/namespaces",
                json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            ),
            201,
            409,
        )
        await _expect(
            await session.post(
                f"{base}{CM_PATH}",
                json={"metadata": {"name": CONFIGMAP}, "data": {"seq": "-1"}},
            ),
            201,
            409,
        )

        async def get_version(_: int) -> None:
            async with session.get(f"{base}/version") as response:
                await _expect(response, 200)

        async def get_cm(_: int) -> None:
            async with session.get(f"{base}{CM_PATH}/{CONFIGMAP}") as response:
                await _expect(response, 200)

        async def patch_cm(i: int) -> None:
            body = json.dumps({"data": {"n": str(i)}})
            ctype = {"Content-Type": "application/merge-patch+json"}
            async with session.patch(
                f"{base}{CM_PATH}/{CONFIGMAP}", data=body, headers=ctype
            ) as response:
                await _expect(response, 200)

        n, c = settings.requests, settings.concurrency
        kinds = {"baseline": get_version, "get": get_cm, "patch": patch_cm}
        for request in kinds.values():  # warm-up: connections, caches
            await _rate(min(n, 500), c, request)
        # Rounds interleave the three kinds, and each keeps its best round: a background hiccup
        # or the order of measurement does not decide a ratio.
        best = dict.fromkeys(kinds, 0.0)
        for _ in range(ROUNDS):
            for kind, request in kinds.items():
                best[kind] = max(best[kind], await _rate(n, c, request))
        baseline, get_rps, patch_rps = best["baseline"], best["get"], best["patch"]
        fanout = await _watch_fanout(session, base, settings)
    return {
        "requests": n,
        "rounds": ROUNDS,
        "concurrency": c,
        "baseline_version_rps": round(baseline),
        "get_rps": round(get_rps),
        "patch_rps": round(patch_rps),
        "get_vs_baseline": round(get_rps / baseline, 3),
        "patch_vs_baseline": round(patch_rps / baseline, 3),
        "watch_fanout": fanout,
    }
