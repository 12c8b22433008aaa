"""The two control planes a walk (the demo, the scenario and real tiers) runs on, behind one
face: the emulator in a thread of this process, or the real servers built from their Go modules.

    with open_plane(data_dir, api_key, real=True) as plane:
        plane.info                      # kubeconfig, Weaviate ports
        plane.claim_dir("chat", "data") # the folder behind a claim (write the app's database)
        plane.weaviate_down(); plane.weaviate_up()
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from datamigration_sandbox.info import SandboxInfo
from datamigration_sandbox.real.kubelet_settings import DEFAULT_SYNC_PERIOD

if TYPE_CHECKING:
    from datamigration_sandbox.real.control_plane import RealControlPlane


def repository_file(relative: str) -> Path:
    """A file of the checkout (crds/, manifests/): from the working directory or the source."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (root / relative).exists():
            return root / relative
    raise FileNotFoundError(f"{relative} not found; run from the repository root")


class Plane(Protocol):
    """A started control plane with one Weaviate node behind `weaviate_api_key`."""

    info: SandboxInfo
    weaviate_api_key: str
    real: bool

    def claim_dir(self, namespace: str, claim: str) -> Path: ...

    def weaviate_down(self) -> None: ...

    def weaviate_up(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Plane: ...

    def __exit__(self, *_exc: object) -> None: ...


class EmulatedPlane:
    """The emulator (API server, Job runner, Deployment kubelet, Weaviate) in a thread."""

    real = False
    description = "the emulator: Kubernetes API, Job runner, Weaviate"

    def __init__(self, data_dir: Path, weaviate_api_key: str) -> None:
        from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread

        self.weaviate_api_key = weaviate_api_key
        self.plane = ControlPlane(
            data_dir, crd_dir=repository_file("crds"), weaviate_api_key=weaviate_api_key
        )
        self._thread = ControlPlaneThread(self.plane)
        self.info = self._thread.start()

    def claim_dir(self, namespace: str, claim: str) -> Path:
        return self.plane.runner.claim_dir(namespace, claim)

    def weaviate_down(self) -> None:
        """Both Weaviate ports closed (connection refused), as during a Weaviate restart."""
        self._thread.call(self.plane.weaviate.stop())

    def weaviate_up(self) -> None:
        """Weaviate back on the same ports, with its data."""
        self._thread.call(
            self.plane.weaviate.start(
                http_port=self.info.weaviate_http_port, grpc_port=self.info.weaviate_grpc_port
            )
        )

    def close(self) -> None:
        self._thread.stop()

    def __enter__(self) -> EmulatedPlane:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class RealPlane:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler, the process kubelet and
    one weaviate-server (scripts/build-servers.sh builds them). `attach` wraps a plane someone
    else started and stops (the real tier's session cluster)."""

    real = True

    def __init__(self, plane: RealControlPlane, weaviate_api_key: str, *, owned: bool) -> None:
        self.plane = plane
        self.weaviate_api_key = weaviate_api_key
        self._owned = owned
        self.info = plane.info

    @classmethod
    def start(
        cls,
        data_dir: Path,
        weaviate_api_key: str,
        *,
        kubelet_sync_period: float = DEFAULT_SYNC_PERIOD,
    ) -> RealPlane:
        from datamigration_sandbox.real.control_plane import RealControlPlane

        plane = RealControlPlane(
            data_dir,
            crd_dir=repository_file("crds"),
            weaviate_api_key=weaviate_api_key,
            kubelet_sync_period=kubelet_sync_period,
            timeout=180.0,
        )
        plane.start()
        return cls(plane, weaviate_api_key, owned=True)

    @classmethod
    def attach(cls, plane: RealControlPlane) -> RealPlane:
        if not plane.weaviate_api_key:
            raise ValueError("the real control plane runs Weaviate without an API key")
        return cls(plane, plane.weaviate_api_key, owned=False)

    @property
    def description(self) -> str:
        versions = self.plane.versions
        return (
            f"the real servers: etcd {versions.get('etcd', '?')}, kube-apiserver, "
            f"kube-controller-manager and kube-scheduler {versions.get('kube-apiserver', '?')}, "
            f"a process kubelet, weaviate-server {versions.get('weaviate-server', '?')}"
        )

    def claim_dir(self, namespace: str, claim: str) -> Path:
        return self.plane.claim_folder(namespace, claim)

    def weaviate_down(self) -> None:
        self.plane.weaviate_down()

    def weaviate_up(self) -> None:
        self.plane.weaviate_up()

    def close(self) -> None:
        if self._owned:
            self.plane.stop()

    def __enter__(self) -> RealPlane:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_plane(
    data_dir: Path, weaviate_api_key: str, *, real: bool = False
) -> EmulatedPlane | RealPlane:
    if real:
        return RealPlane.start(data_dir, weaviate_api_key)
    return EmulatedPlane(data_dir, weaviate_api_key)
