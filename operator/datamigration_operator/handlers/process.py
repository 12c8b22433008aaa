"""Runs the operator: kopf with our handlers, in this process."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import kopf

from datamigration_operator.handlers import registration
from datamigration_operator.handlers.config import OperatorConfig


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


def run_operator(options: OperatorOptions) -> None:
    assert registration.MODULES  # the import above registered the handlers
    kopf.configure(verbose=options.verbose, log_format=kopf.LogFormat.PLAIN)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    kopf.run(
        standalone=options.peering is None,
        peering_name=options.peering,
        clusterwide=not options.namespaces,
        namespaces=list(options.namespaces),
        liveness_endpoint=options.liveness,
        memo=kopf.Memo(config=options.config),
    )
