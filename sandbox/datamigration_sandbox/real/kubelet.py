"""The process kubelet: a Node of the real API server whose pods run as local processes.

It registers its Node (Ready, capacity, addresses, the kubelet endpoint) and renews its Lease in
kube-node-lease, watches the pods the real scheduler binds to it (`spec.nodeName`), runs each as
a PodRuntime, serves `kubectl logs` (GET /containerLogs/{ns}/{pod}/{container} over HTTPS on the
node's port, which the API server proxies to) and runs the hostPath volume provisioner.

Run it as `python -m datamigration_sandbox.real.kubelet --kubeconfig K --data-dir D`.
SIGTERM stops its pods (SIGTERM, 2 s, SIGKILL) and ends it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from datamigration_sandbox.real.api_client import ApiClient, ApiStatusError
from datamigration_sandbox.real.kubelet_settings import (
    DEFAULT_SYNC_PERIOD,
    KubeletSettings,
)
from datamigration_sandbox.real.node_registration import (
    keep_lease,
    keep_status,
    register_node,
)
from datamigration_sandbox.real.pod_runtime import PodRuntime
from datamigration_sandbox.real.volume_provisioner import run_provisioner

_log = logging.getLogger(__name__)

NODE_NAME = "real-node"
_TERMINAL = ("Succeeded", "Failed")


class ProcessKubelet:
    def __init__(self, settings: KubeletSettings) -> None:
        self.settings = settings
        self.api = settings.api
        self.pods: dict[str, PodRuntime] = {}
        self._deleted: set[str] = set()  # uids whose object we deleted (or asked to)

    # --- pods -----------------------------------------------------------------------------

    async def watch_pods(self) -> None:
        path = "/api/v1/pods"
        selector = f"spec.nodeName={self.settings.node_name}"
        while True:
            try:
                listing = await self.api.get(path, fieldSelector=selector)
                seen = set()
                for pod in listing.get("items") or []:
                    seen.add(pod["metadata"]["uid"])
                    self.handle(pod)
                for uid in [uid for uid in self.pods if uid not in seen]:
                    self._forget(uid)
                version = listing["metadata"]["resourceVersion"]
                while True:
                    async for event in self.api.watch(path, version, fieldSelector=selector):
                        kind, obj = event.get("type"), event.get("object") or {}
                        if kind == "ERROR":
                            raise ApiStatusError(int(obj.get("code", 500)), obj)
                        version = obj.get("metadata", {}).get("resourceVersion", version)
                        if kind == "DELETED":
                            self._forget(obj["metadata"]["uid"])
                        elif kind in ("ADDED", "MODIFIED"):
                            self.handle(obj)
            except (ApiStatusError, OSError, TimeoutError, ValueError) as exc:
                _log.info("pod watch restarts: %s", exc)
                await asyncio.sleep(0.5)

    def handle(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        runtime = self.pods.get(uid)
        phase = (pod.get("status") or {}).get("phase")
        if meta.get("deletionTimestamp"):
            if runtime is not None and not runtime.finished:
                grace = meta.get("deletionGracePeriodSeconds")
                if grace is None:
                    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
                runtime.terminate(float(grace))
            elif uid not in self._deleted:
                self._deleted.add(uid)
                asyncio.get_running_loop().create_task(self._delete_now(pod))
            return
        if runtime is not None:
            runtime.update(pod)
            return
        if phase in _TERMINAL:
            return  # ran before this kubelet started
        runtime = PodRuntime(self.settings, pod)
        self.pods[uid] = runtime
        runtime.start()

    def _forget(self, uid: str) -> None:
        runtime = self.pods.pop(uid, None)
        if runtime is not None and not runtime.finished:
            runtime.kill()
        self._deleted.discard(uid)

    async def _delete_now(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}
        with contextlib.suppress(ApiStatusError):
            await self.api.delete(
                f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}", body
            )

    async def stop_pods(self, grace: float = 2.0) -> None:
        for runtime in self.pods.values():
            if not runtime.finished:
                runtime.kill_gracefully(grace)
        await asyncio.gather(*(runtime.wait() for runtime in self.pods.values()))

    # --- logs -----------------------------------------------------------------------------

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        namespace = request.match_info["namespace"]
        pod = request.match_info["pod"]
        container = request.match_info["container"]
        path = self.settings.log_path(namespace, pod, container)
        if request.query.get("previous") == "true":
            path = path.with_suffix(".previous.log")
        if not path.exists():
            return web.Response(status=404, text=f"no logs of {namespace}/{pod}/{container}\n")
        data = path.read_bytes()
        tail = request.query.get("tailLines")
        if tail is not None and tail.isdigit():
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(tail) :]) if int(tail) else b""
        return web.Response(body=data, content_type="text/plain")

    async def serve_logs(self, port: int, cert: Path | None, key: Path | None) -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        runner = web.AppRunner(app)
        await runner.setup()
        context = None
        if cert is not None and key is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert), str(key))
        await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
        return runner


async def run_kubelet(
    settings: KubeletSettings,
    *,
    port: int,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    provision: bool = True,
) -> None:
    kubelet = ProcessKubelet(settings)
    runner = await kubelet.serve_logs(port, tls_cert, tls_key)
    await register_node(settings.api, settings.node_name, port)
    loop = asyncio.get_running_loop()
    tasks = [
        loop.create_task(keep_lease(settings.api, settings.node_name)),
        loop.create_task(keep_status(settings.api, settings.node_name, port)),
        loop.create_task(kubelet.watch_pods()),
    ]
    if provision:
        tasks.append(loop.create_task(run_provisioner(settings.api, settings.data_dir / "volumes")))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    _log.info("process kubelet %s ready on port %d", settings.node_name, port)
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await kubelet.stop_pods()
        await runner.cleanup()
        await settings.api.close()


def image_path_prefixes(options: list[str]) -> dict[str, tuple[Path, ...]]:
    """`IMAGE=DIR` options (an image name holds no `=`): image -> its folders, in order."""
    prefixes: dict[str, tuple[Path, ...]] = {}
    for option in options:
        image, separator, folder = option.partition("=")
        if not (image and separator and folder):
            raise ValueError(f"--image-path-prefix takes IMAGE=DIR, not {option!r}")
        prefixes[image] = (*prefixes.get(image, ()), Path(folder))
    return prefixes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--node-name", default=NODE_NAME)
    parser.add_argument("--port", type=int, default=10250)
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument(
        "--sync-period",
        type=float,
        default=DEFAULT_SYNC_PERIOD,
        help="Seconds between pod syncs (ConfigMap volume refresh); 60 like a real kubelet.",
    )
    parser.add_argument("--path-prefix", type=Path, action="append", default=[])
    parser.add_argument(
        "--image-path-prefix",
        action="append",
        default=[],
        metavar="IMAGE=DIR",
        help="Containers of IMAGE find executables in DIR first (repeatable).",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = KubeletSettings(
        api=ApiClient.from_kubeconfig(args.kubeconfig),
        node_name=args.node_name,
        data_dir=args.data_dir.resolve(),
        sync_period=args.sync_period,
        path_prefix=tuple(args.path_prefix),
        image_path_prefix=image_path_prefixes(args.image_path_prefix),
    )
    asyncio.run(run_kubelet(settings, port=args.port, tls_cert=args.tls_cert, tls_key=args.tls_key))


if __name__ == "__main__":
    main()
