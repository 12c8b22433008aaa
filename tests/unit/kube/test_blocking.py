"""The product's one client for synchronous callers: KubeClient on a private event loop, with
the retries the Job relied on (idempotent verbs after a lost connection, fresh credentials after
a 401) and nothing more."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from datamigration_operator.kube.blocking import BlockingKubeClient
from datamigration_operator.kube.errors import KubeApiError, KubeConnectionError
from datamigration_operator.kube.resources import CONFIGMAPS
from tests.unit.kube.fake_api import FakeApi

NS = "apps"
CM_PATH = CONFIGMAPS.path(NS, "app")
LOST = KubeConnectionError("connection reset")
EXPIRED = KubeApiError(401, "Unauthorized", "token expired")


class Transports:
    """connect(): each call is a new FakeApi (new credentials) over the same objects;
    `refuse` is what every new one fails with."""

    def __init__(self) -> None:
        self.made: list[FakeApi] = []
        self.objects: dict[str, dict[str, Any]] = {}
        self.refuse: dict[tuple[str, str], KubeApiError] = {}

    def __call__(self) -> FakeApi:
        api = FakeApi()
        api.objects = self.objects
        api.fail.update(self.refuse)
        self.made.append(api)
        return api


def client_of(connect: Callable[[], FakeApi], **options: Any) -> BlockingKubeClient:
    return BlockingKubeClient(connect, retry_delay=0, **options)


def test_requests_reach_the_transport_and_errors_come_back_typed() -> None:
    transports = Transports()
    with client_of(transports) as client:
        client.create(CONFIGMAPS, NS, {"metadata": {"name": "app"}, "data": {"k": "v"}})
        client.merge_patch(CONFIGMAPS, NS, "app", {"data": {"k": "w"}})
        assert client.get(CONFIGMAPS, NS, "app") == transports.objects[CM_PATH]
        assert client.get(CONFIGMAPS, NS, "gone") is None
        with pytest.raises(KubeApiError) as taken:
            client.create(CONFIGMAPS, NS, {"metadata": {"name": "app"}})
    assert taken.value.code == 409
    assert transports.objects[CM_PATH]["data"] == {"k": "w"}


@pytest.mark.parametrize(
    ("verb", "method"),
    [
        (lambda c: c.get(CONFIGMAPS, NS, "app"), "GET"),
        (lambda c: c.merge_patch(CONFIGMAPS, NS, "app", {"data": {}}), "PATCH"),
    ],
)
def test_idempotent_verbs_are_tried_again_after_a_lost_connection(
    verb: Callable[[BlockingKubeClient], Any], method: str
) -> None:
    api = FakeApi()
    api.fail[(method, CM_PATH)] = LOST
    with client_of(lambda: api, attempts=3) as client, pytest.raises(KubeConnectionError):
        verb(client)
    assert api.requests == [(method, CM_PATH)] * 3


def test_a_create_is_sent_once_its_answer_may_have_been_lost() -> None:
    api = FakeApi()
    api.fail[("POST", CONFIGMAPS.path(NS))] = LOST
    with client_of(lambda: api) as client, pytest.raises(KubeConnectionError):
        client.create(CONFIGMAPS, NS, {"metadata": {"name": "app"}})
    assert len(api.requests) == 1


def test_a_401_reconnects_once_with_fresh_credentials() -> None:
    transports = Transports()
    with client_of(transports) as client:
        transports.made[0].fail[("GET", CM_PATH)] = EXPIRED
        assert client.get(CONFIGMAPS, NS, "app") is None
        assert len(transports.made) == 2


def test_credentials_still_refused_after_a_reconnect_are_an_error() -> None:
    transports = Transports()
    transports.refuse[("GET", CM_PATH)] = EXPIRED
    with client_of(transports) as client, pytest.raises(KubeApiError) as refused:
        client.get(CONFIGMAPS, NS, "app")
    assert refused.value.code == 401
    assert len(transports.made) == 2


async def test_it_blocks_only_its_caller_even_inside_a_running_event_loop() -> None:
    client = client_of(Transports())
    assert client.get(CONFIGMAPS, NS, "app") is None
    client.close()
    client.close()  # twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        client.get(CONFIGMAPS, NS, "app")
