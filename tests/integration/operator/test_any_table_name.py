"""A DataMigration naming tables and columns with spaces, quotes and unicode goes through the
API server's admission, the operator and into its Jobs' configuration unchanged."""

from __future__ import annotations

import json

from datamigration_operator.api.job_contract import CONFIG_ENV
from tests.integration.operator.conftest import (
    OperatorProcess,
    Sandbox,
    advance,
    new_datamigration,
    own_collection,
)

NAME = "odd-names"


def test_tables_with_spaces_quotes_and_unicode_walk_to_validate(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    suffix = own_collection(namespace, NAME)[len("Item") :]
    collections = [
        {
            "table": "Order Details",
            "collection": f"OrderDetails{suffix}",
            "idColumn": "Order ID",
            "properties": [{"column": "unit price"}, {"column": 'say "hi"', "name": "sayHi"}],
        },
        {"table": 'quo"te', "collection": f"Quoted{suffix}", "idColumn": "k-ey"},
        {"table": "商品", "collection": f"Goods{suffix}"},
    ]
    new_datamigration(sandbox, namespace, NAME, collections=collections)
    advance(sandbox, namespace, NAME, "migrate", "dual-write", "validate")
    jobs = sandbox.batch.list_namespaced_job(namespace).items
    assert len(jobs) == 3  # copy, sync, validate
    for job in jobs:
        env = {e.name: e.value for e in job.spec.template.spec.containers[0].env}
        config = json.loads(env[CONFIG_ENV])
        assert [c["table"] for c in config["collections"]] == ["Order Details", 'quo"te', "商品"]
        assert config["collections"][0]["properties"][1]["column"] == 'say "hi"'
