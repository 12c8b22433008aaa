"""Runs the operator: kopf with our handlers, in this process."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import kopf

from datamigration_operator.handlers import registration
from datamigration_operator.handlers.config import OperatorConfig
from datamigration_operator.handlers.metrics import OperatorMetrics, serve

LogFormat = Literal["json", "full", "plain"]
LOG_FORMATS: Final[dict[LogFormat, kopf.LogFormat]] = {
    "json": kopf.LogFormat.JSON,
    "full": kopf.LogFormat.FULL,
    "plain": kopf.LogFormat.PLAIN,
}


@dataclass(frozen=True)
class OperatorOptions:
    config: OperatorConfig
    namespaces: Sequence[str] = ()
    """Empty: all namespaces."""
    liveness: str | None = None
    """e.g. http://0.0.0.0:8080/healthz"""
    peering: str | None = None
    """None: standalone (one replica). A name: kopf peering for an HA pair (needs the
    KopfPeering CRDs, see manifests/ha)."""
    verbose: bool = False
    metrics_port: int = 0
    """Serve Prometheus metrics on this port (all addresses); 0: none."""
    log_format: LogFormat = "full"
    """json (one object a line, with the DataMigration it concerns), full (time, logger,
    level, message) or plain (the message)."""


def configure_logging(log_format: LogFormat, verbose: bool) -> None:
    """The root logger's one handler in the chosen format: kopf's, ours and the libraries'
    records alike (kopf's JSON formatter adds the object a record concerns)."""
    kopf.configure(verbose=verbose, log_format=LOG_FORMATS[log_format])
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def run_operator(options: OperatorOptions) -> None:
    """Runs until interrupted. OSError when the metrics port cannot be bound (before kopf
    starts: nothing has been reconciled)."""
    assert registration.MODULES  # the import above registered the handlers
    configure_logging(options.log_format, options.verbose)
    metrics = OperatorMetrics()
    server = serve(metrics, options.metrics_port) if options.metrics_port else None
    if server is not None:
        logging.getLogger(__name__).info(
            f"serving metrics on http://0.0.0.0:{server.server_port}/metrics"
        )
    try:
        kopf.run(
            standalone=options.peering is None,
            peering_name=options.peering,
            clusterwide=not options.namespaces,
            namespaces=list(options.namespaces),
            liveness_endpoint=options.liveness,
            memo=kopf.Memo(config=options.config, metrics=metrics),
        )
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
