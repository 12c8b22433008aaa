"""The event recorder aggregates repeats like client-go instead of piling up objects."""

from __future__ import annotations

from datamigration_operator.kube.client import KubeClient
from datamigration_operator.kube.events import EventRecorder, InvolvedObject
from datamigration_operator.kube.resources import EVENTS
from tests.unit.kube.fake_api import FakeApi

DM = InvolvedObject("migrations.gremlins.ai/v1alpha1", "DataMigration", "apps", "shop", "u-1")


def _events(api: FakeApi) -> list[dict[str, object]]:
    prefix = EVENTS.path("apps") + "/"
    return [obj for path, obj in api.objects.items() if path.startswith(prefix)]


async def test_an_event_names_its_object_source_and_times() -> None:
    api = FakeApi()
    await EventRecorder(KubeClient(api), instance="pod-1").record(
        DM, "Warning", "ValidationRequired", "switch needs a passing validation"
    )
    (event,) = _events(api)
    assert event["involvedObject"] == {
        "apiVersion": "migrations.gremlins.ai/v1alpha1",
        "kind": "DataMigration",
        "namespace": "apps",
        "name": "shop",
        "uid": "u-1",
    }
    assert (event["type"], event["reason"], event["count"]) == ("Warning", "ValidationRequired", 1)
    assert event["source"] == {"component": "datamigration-operator"}
    assert event["reportingComponent"] == "datamigration-operator"
    assert event["firstTimestamp"] == event["lastTimestamp"]


async def test_repeats_bump_count_and_new_messages_make_new_events() -> None:
    api = FakeApi()
    recorder = EventRecorder(KubeClient(api))
    for _ in range(3):
        await recorder.record(DM, "Warning", "ConfigMapNotFound", "ConfigMap app not found")
    await recorder.record(DM, "Warning", "ConfigMapNotFound", "ConfigMap other not found")
    events = sorted(_events(api), key=lambda e: str(e["message"]))
    assert [(e["message"], e["count"]) for e in events] == [
        ("ConfigMap app not found", 3),
        ("ConfigMap other not found", 1),
    ]


async def test_an_expired_event_is_recreated() -> None:
    api = FakeApi()
    recorder = EventRecorder(KubeClient(api))
    await recorder.record(DM, "Normal", "JobCreated", "created copy Job x")
    api.objects.clear()  # the API server's event TTL removed it
    await recorder.record(DM, "Normal", "JobCreated", "created copy Job x")
    (event,) = _events(api)
    assert event["count"] == 1


async def test_long_messages_are_truncated() -> None:
    api = FakeApi()
    await EventRecorder(KubeClient(api)).record(DM, "Warning", "JobFailed", "x" * 5000)
    (event,) = _events(api)
    assert len(str(event["message"])) == 1024
