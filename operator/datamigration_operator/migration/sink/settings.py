"""How the sink writes (batching, retries, rate): plain settings, importable without the Weaviate
client (the dual-write app builds them at start-up, before it ever connects)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SinkSettings:
    batch_size: int = 500
    concurrency: int = 2
    objects_per_second: int = 0
    """0 means unlimited."""
    max_attempts: int = 6
    """Tries per object; with 5% of objects failing at random, 6 misses in a row is 1.6e-8."""
    base_delay: float = 0.05
    max_delay: float = 2.0
    client_retries: bool = True
    """False: one gRPC call per try, without weaviate-client's retry loop (it sleeps 1+2+4+8 s
    on UNAVAILABLE before raising), for a caller that backs off and counts failures itself."""
