"""A Store + KubeApiServer on an event loop in a background thread, so the synchronous kubernetes
client, kopf's runner and the kubectl binary can all talk to it over real HTTP."""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
import pytest

from datamigration_sandbox.kube.auth import Authenticator, UserInfo
from datamigration_sandbox.kube.kubeconfig import write_kubeconfig
from datamigration_sandbox.kube.server import KubeApiServer
from datamigration_sandbox.kube.serving_certificate import (
    ServingCertificate,
    generate_serving_certificate,
)
from datamigration_sandbox.kube.store import Store

T = TypeVar("T")

ADMIN = UserInfo("test-admin", ("system:masters", "system:authenticated"))

WIDGET_GROUP = "tests.gremlins.ai"
PHASE_RULE_MESSAGE = "phase may only move from a to b"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{WIDGET_GROUP}"},
    "spec": {
        "group": WIDGET_GROUP,
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "listKind": "WidgetList",
            "shortNames": ["wg"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Phase", "type": "string", "jsonPath": ".spec.phase"},
                    {
                        "name": "Ready",
                        "type": "string",
                        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                    },
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "phase": {
                                        "type": "string",
                                        "x-kubernetes-validations": [
                                            {
                                                "rule": "self == oldSelf || "
                                                "oldSelf == 'a' && self == 'b'",
                                                "message": PHASE_RULE_MESSAGE,
                                            }
                                        ],
                                    },
                                    "size": {"type": "integer", "default": 1},
                                },
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}


def _decode(raw: bytes) -> Any:
    lines = raw.splitlines()
    if len(lines) > 1:
        return [json.loads(line) for line in lines]
    return json.loads(raw)


@dataclass
class KubeSandbox:
    """A running API server; the store is only touched on its loop (it is not thread-safe)."""

    loop: asyncio.AbstractEventLoop
    store: Store
    server: KubeApiServer
    authenticator: Authenticator
    url: str
    kubeconfig: Path
    admin_token: str
    ca_file: Path
    _clients: list[kubernetes.client.ApiClient] = field(default_factory=list)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn: Callable[[], T]) -> T:
        """Run a synchronous function (e.g. a store call) on the server's loop."""

        async def invoke() -> T:
            return fn()

        return self.call(invoke())

    def api_client(self, token: str | None = None) -> kubernetes.client.ApiClient:
        config = kubernetes.client.Configuration()
        config.host = self.url
        config.ssl_ca_cert = str(self.ca_file)
        config.api_key = {"authorization": token or self.admin_token}
        config.api_key_prefix = {"authorization": "Bearer"}
        client = kubernetes.client.ApiClient(config)
        self._clients.append(client)
        return client

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        token: str | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        """A raw HTTP request (token "" sends none): status, decoded JSON body, headers.
        A body of several JSON lines (a watch) decodes to the list of its lines."""
        request = urllib.request.Request(self.url + path, data=body, method=method)
        request.add_header("Content-Type", content_type)
        request.add_header("Accept", accept)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        if token != "":
            request.add_header("Authorization", f"Bearer {token or self.admin_token}")
        context = ssl.create_default_context(cafile=str(self.ca_file))
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as response:
                return response.status, _decode(response.read()), response.headers
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read()), exc.headers

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()


@functools.cache
def _certificate() -> ServingCertificate:
    """One certificate for the whole session: key generation is the slow part."""
    return generate_serving_certificate()


def _pod_log(namespace: str, pod: str, container: str | None) -> str | None:
    """Pods named logger-* have a log; every other pod has none yet."""
    if not pod.startswith("logger"):
        return None
    return f"hello from {namespace}/{pod} ({container or 'main'})\n"


def start_sandbox(
    tmp_path: Path, *, watch_history: int = 2000
) -> tuple[KubeSandbox, Callable[[], None]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="kube-sandbox", daemon=True)
    thread.start()
    token = secrets.token_urlsafe(16)
    certificate = _certificate()
    authenticator = Authenticator({token: ADMIN})

    async def boot() -> tuple[Store, KubeApiServer, str]:
        store = Store(watch_history=watch_history)
        server = KubeApiServer(
            store,
            authenticator=authenticator,
            authorization=True,
            log_source=_pod_log,
            tls=certificate,
        )
        url = await server.start()
        return store, server, url

    store, server, url = asyncio.run_coroutine_threadsafe(boot(), loop).result(10)
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", url, token=token, certificate_authority=certificate.ca_pem
    )
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(certificate.ca_pem)
    sandbox = KubeSandbox(loop, store, server, authenticator, url, kubeconfig, token, ca_file)

    def stop() -> None:
        sandbox.close_clients()
        sandbox.call(server.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()

    return sandbox, stop


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSandbox]:
    sandbox, stop = start_sandbox(tmp_path_factory.mktemp("kube"))
    try:
        yield sandbox
    finally:
        stop()


@pytest.fixture(scope="module")
def widget_crd(kube: KubeSandbox) -> dict[str, Any]:
    """The test CRD, created through the API (so discovery must pick it up live)."""
    api = kubernetes.client.ApiextensionsV1Api(kube.api_client())
    try:
        api.create_custom_resource_definition(WIDGET_CRD)
    except kubernetes.client.ApiException as exc:
        if exc.status != 409:
            raise
    return WIDGET_CRD
