"""Handler wiring without a cluster: kopf settings, the dependency index, and the reconcile
function end to end over the kube layer with an in-memory API."""

from __future__ import annotations

import asyncio
import logging

import kopf
import pytest
from typer.testing import CliRunner

from datamigration_operator.cli.main import app
from datamigration_operator.handlers.config import (
    RESYNC_ENV,
    OperatorConfig,
    resync_seconds,
    split_list,
)
from datamigration_operator.handlers.datamigrations import datamigrations_by_dependency
from datamigration_operator.handlers.lifecycle import configure
from datamigration_operator.handlers.reconciler import reconcile, reconcile_or_retry
from datamigration_operator.handlers.runtime import Runtime
from datamigration_operator.kube.client import KubeClient
from datamigration_operator.kube.errors import KubeApiError
from datamigration_operator.kube.events import EventRecorder
from datamigration_operator.kube.resources import CONFIGMAPS, DATAMIGRATIONS, EVENTS, JOBS
from datamigration_operator.reconcile.actions import (
    ApplyMode,
    Block,
    CreateJob,
    EmitEvent,
    SetStatus,
)
from tests.unit.kube.fake_api import FakeApi
from tests.unit.kube.world import NS, manifest, populate


def _runtime(api: FakeApi) -> Runtime:
    client = KubeClient(api)
    return Runtime(OperatorConfig(job_image="img:2"), client, EventRecorder(client))


def test_kopf_state_lives_under_our_prefix() -> None:
    settings = kopf.OperatorSettings()
    configure(settings)
    progress = settings.persistence.progress_storage
    diffbase = settings.persistence.diffbase_storage
    assert isinstance(progress, kopf.AnnotationsProgressStorage)
    assert progress.prefix == "migrations.gremlins.ai"
    assert isinstance(diffbase, kopf.AnnotationsDiffBaseStorage)
    assert diffbase.prefix == "migrations.gremlins.ai"
    assert settings.persistence.finalizer.startswith("migrations.gremlins.ai/")
    assert settings.posting.level == logging.ERROR


def test_dependency_index_names_config_map_and_workloads() -> None:
    spec = manifest(
        app={
            "configMapRef": {"name": "shop-config"},
            "workloads": [{"kind": "Deployment", "name": "web"}],
        }
    )["spec"]
    keys = datamigrations_by_dependency(name="shop", namespace=NS, spec=spec)  # type: ignore[call-arg]
    assert keys == {(NS, "ConfigMap", "shop-config"): "shop", (NS, "Deployment", "web"): "shop"}


async def test_reconcile_creates_the_job_once_and_then_has_nothing_left_to_do() -> None:
    api = FakeApi()
    populate(api)
    runtime = _runtime(api)
    first = await reconcile(runtime, NS, "shop")
    kinds = [type(a) for a in first]
    assert ApplyMode in kinds
    assert CreateJob in kinds
    assert SetStatus in kinds
    assert EmitEvent in kinds
    (job_path,) = [p for p in api.objects if p.startswith(JOBS.path(NS) + "/")]
    image = api.objects[job_path]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "img:2"
    assert api.objects[CONFIGMAPS.path(NS, "shop-config")]["data"]["migration_mode"] == (
        "sqlite_only"
    )
    again = await reconcile(runtime, NS, "shop")
    assert [a for a in again if not isinstance(a, Block)] == []


async def test_reconcile_of_a_vanished_datamigration_does_nothing() -> None:
    api = FakeApi()
    assert await reconcile(_runtime(api), NS, "gone") == []
    assert api.requests == [("GET", DATAMIGRATIONS.path(NS, "gone"))]


async def test_a_spec_our_model_rejects_fails_once_with_a_warning() -> None:
    api = FakeApi()
    api.put(DATAMIGRATIONS.path(NS, "shop"), manifest(collections=[]))
    runtime = _runtime(api)
    await reconcile(runtime, NS, "shop")
    await reconcile(runtime, NS, "shop")
    status = api.objects[DATAMIGRATIONS.path(NS, "shop")]["status"]
    assert status["state"] == "Failed"
    assert "collections" in status["message"]
    events = [o for p, o in api.objects.items() if p.startswith(EVENTS.path(NS) + "/")]
    assert [(e["type"], e["reason"], e["count"]) for e in events] == [("Warning", "InvalidSpec", 1)]
    assert not [p for p in api.objects if p.startswith(JOBS.path(NS) + "/")]


async def test_api_failures_become_kopf_errors_and_are_counted() -> None:
    api = FakeApi()
    populate(api)
    runtime = _runtime(api)
    api.fail[("GET", DATAMIGRATIONS.path(NS, "shop"))] = KubeApiError(503, "Unavailable", "x")
    with pytest.raises(kopf.TemporaryError):
        await reconcile_or_retry(runtime, NS, "shop")
    assert runtime.stats.failures == 1
    del api.fail[("GET", DATAMIGRATIONS.path(NS, "shop"))]
    await reconcile_or_retry(runtime, NS, "shop")
    assert runtime.stats.reconciles == 1
    assert runtime.stats.last_success is not None


def test_validation_changes_are_reported_once_per_report() -> None:
    runtime = _runtime(FakeApi())
    key = (NS, "shop")
    assert runtime.lock(key) is runtime.lock(key)
    report = {"job": "j", "finishedAt": "2026-11-26T12:00:00Z"}
    assert runtime.validation_changed(key, report)
    assert not runtime.validation_changed(key, dict(report))
    assert runtime.validation_changed(key, {**report, "finishedAt": "2026-11-26T12:01:00Z"})


def test_operator_run_refuses_contradictory_scopes() -> None:
    result = CliRunner().invoke(app, ["operator", "run", "-n", "a", "--all-namespaces"])
    assert result.exit_code != 0
    assert "either --namespace or --all-namespaces" in result.output


def test_resync_interval_comes_from_the_environment_and_is_checked() -> None:
    assert resync_seconds({}) == 10.0
    assert resync_seconds({RESYNC_ENV: "2.5"}) == 2.5
    for bad in ("0", "soon", "-1", "99999"):
        with pytest.raises(ValueError, match=RESYNC_ENV):
            resync_seconds({RESYNC_ENV: bad})


async def test_reconcile_honours_the_operators_allow_lists() -> None:
    api = FakeApi()
    populate(api, jobTemplate={"image": "mine:7", "serviceAccountName": "ops-sa"})
    client = KubeClient(api)
    strict = Runtime(OperatorConfig(job_image="img:2"), client, EventRecorder(client))
    actions = await reconcile(strict, NS, "shop")
    assert [a.reason for a in actions if isinstance(a, Block)] == ["JobImageNotAllowed"]
    assert not [p for p in api.objects if p.startswith(JOBS.path(NS) + "/")]
    allowing = OperatorConfig(
        job_image="img:2", allowed_job_images=("mine:7",), allowed_job_service_accounts=("ops-sa",)
    )
    await reconcile(Runtime(allowing, client, EventRecorder(client)), NS, "shop")
    (job_path,) = [p for p in api.objects if p.startswith(JOBS.path(NS) + "/")]
    pod = api.objects[job_path]["spec"]["template"]["spec"]
    assert (pod["containers"][0]["image"], pod["serviceAccountName"]) == ("mine:7", "ops-sa")


def test_allow_lists_come_from_the_environment_comma_separated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATAMIGRATION_ALLOWED_JOB_IMAGES", "a:1, b:2,,a:1")
    monkeypatch.setenv("DATAMIGRATION_ALLOWED_JOB_SERVICE_ACCOUNTS", "sa-1")
    config = OperatorConfig.from_env()
    assert config.allowed_job_images == ("a:1", "b:2")
    policy = config.job_policy
    assert policy.allowed_service_accounts == frozenset({"sa-1"})
    assert policy.default_image == config.job_image
    assert split_list(["x,y", "z"]) == ("x", "y", "z")


def test_operator_run_documents_the_allow_list_options() -> None:
    result = CliRunner().invoke(app, ["operator", "run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--allowed-job-images" in result.output
    assert "--allowed-job-service-accounts" in result.output


def test_operator_run_refuses_one_port_for_liveness_and_metrics() -> None:
    liveness = ["operator", "run", "--liveness", "http://0.0.0.0:8080/healthz"]
    result = CliRunner().invoke(app, liveness)  # the default metrics port is 8080
    assert result.exit_code != 0
    assert "both name port 8080" in result.output
    refused = CliRunner().invoke(app, ["operator", "run", "--log-format", "xml"])
    assert refused.exit_code != 0
    assert "xml" in refused.output


def test_json_logs_are_one_object_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import logging

    from datamigration_operator.handlers.process import configure_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("json", verbose=False)
        logging.getLogger("datamigration_operator.test").warning("phase %s blocked", "switch")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    (line,) = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["message"] == "phase switch blocked"
    assert record["severity"] == "warn"  # kopf's JSON severity names


async def test_a_recheck_runs_once_however_often_asked_and_forget_cancels_it() -> None:
    runtime = _runtime(FakeApi())
    ran: list[str] = []

    async def replan() -> None:
        ran.append("shop")

    for _ in range(3):
        runtime.recheck_soon((NS, "shop"), 0.01, replan)
    await asyncio.sleep(0.1)
    assert ran == ["shop"]
    runtime.recheck_soon((NS, "shop"), 0.01, replan)  # asked again once it ran: runs again
    runtime.recheck_soon((NS, "gone"), 0.01, replan)
    runtime.forget((NS, "gone"))
    await asyncio.sleep(0.1)
    assert ran == ["shop", "shop"]


async def test_a_recheck_whose_replan_failed_looks_again() -> None:
    runtime = _runtime(FakeApi())
    ran: list[str] = []

    async def replan() -> None:
        ran.append("shop")
        if len(ran) == 1:
            raise kopf.TemporaryError("409 Conflict", delay=0.01)

    runtime.recheck_soon((NS, "shop"), 0.01, replan)
    await asyncio.sleep(0.2)
    assert ran == ["shop", "shop"]
