"""Two DataMigrations writing one collection on one Weaviate (issue 11, case 1): the younger
is Blocked with CollectionOwnedByOther naming the older, before any Job or mode change."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from datamigration_operator.api import reasons
from datamigration_operator.reconcile.actions import Action, ApplyMode, CreateJob
from datamigration_operator.reconcile.conditions import find_condition
from datamigration_operator.reconcile.observed import Observation, OtherMigration
from datamigration_operator.reconcile.planner import plan
from tests.unit.reconcile.scenario import NOW, apply, observation

ENDPOINT = "weaviate.weaviate.svc:8080"  # scenario.spec_dict's target


def other(collections: set[str], *, endpoint: str = ENDPOINT, age: float = 60) -> OtherMigration:
    return OtherMigration(
        "base/happy", NOW - timedelta(seconds=age), endpoint, frozenset(collections)
    )


def planned(*others: OtherMigration) -> tuple[list[Action], Observation]:
    obs = dataclasses.replace(
        observation("migrate"), created_at=NOW - timedelta(seconds=5), other_migrations=others
    )
    actions = plan(obs)
    return actions, apply(obs, actions)


def test_an_older_migration_of_the_same_collection_blocks_the_younger() -> None:
    actions, after = planned(other({"order"}))
    assert after.status.state == "Blocked"
    assert not any(isinstance(a, (CreateJob, ApplyMode)) for a in actions)
    ready = find_condition(after.status.conditions, reasons.READY)
    assert ready is not None
    assert ready.reason == reasons.COLLECTION_OWNED_BY_OTHER
    message = after.status.message or ""
    assert "collection Order on Weaviate weaviate.weaviate.svc:8080" in message
    assert "DataMigration base/happy" in message


def test_the_older_one_itself_goes_on() -> None:
    _, after = planned(other({"order"}, age=1))  # the other is younger than this one
    assert after.status.state != "Blocked"


def test_other_collections_or_another_weaviate_do_not_collide() -> None:
    for others in (other({"invoice"}), other({"order"}, endpoint="weaviate.other.svc:8080")):
        _, after = planned(others)
        assert after.status.state != "Blocked"


def test_one_that_already_ran_a_job_keeps_the_collection_whatever_its_age() -> None:
    started = dataclasses.replace(other({"order"}, age=1), started=True)  # younger, started
    _, after = planned(started)
    assert after.status.state == "Blocked"
