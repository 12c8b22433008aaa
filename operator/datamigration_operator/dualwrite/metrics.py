"""Prometheus metrics of the outbox and its drainer; one set per registry."""

from __future__ import annotations

import weakref
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge


class OutboxMetrics:
    # by the registry itself: an id() can be reused once a registry is collected
    _by_registry: weakref.WeakKeyDictionary[CollectorRegistry, OutboxMetrics] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        self.depth = Gauge(
            "datamigration_dualwrite_outbox_depth",
            "Outbox entries not yet in Weaviate",
            registry=registry,
        )
        self.oldest_age = Gauge(
            "datamigration_dualwrite_outbox_oldest_age_seconds",
            "Age of the oldest outbox entry (0 when empty)",
            registry=registry,
        )
        self.drained = Counter(
            "datamigration_dualwrite_drained",
            "Outbox entries applied to Weaviate",
            registry=registry,
        )
        self.drain_failures = Counter(
            "datamigration_dualwrite_drain_failures",
            "Drain attempts that failed and will be retried",
            registry=registry,
        )
        self.unmappable = Counter(
            "datamigration_dualwrite_unmappable_rows",
            "Rows that cannot be represented in Weaviate (dropped from the outbox, logged)",
            registry=registry,
        )

    def observe(self, stats: Callable[[], tuple[int, float]]) -> None:
        """Read depth and oldest age from `stats` at every scrape: they must keep growing while
        Weaviate is down and the drainer is stuck in a retry, not freeze at the last drain."""
        self.depth.set_function(lambda: stats()[0])
        self.oldest_age.set_function(lambda: stats()[1])

    @classmethod
    def for_registry(cls, registry: CollectorRegistry) -> OutboxMetrics:
        found = cls._by_registry.get(registry)
        if found is None:
            found = cls._by_registry[registry] = cls(registry)
        return found
