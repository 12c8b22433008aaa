"""Importing this module registers every handler with kopf's default registry."""

from __future__ import annotations

from datamigration_operator.handlers import datamigrations, dependents, lifecycle

MODULES = (lifecycle, datamigrations, dependents)
