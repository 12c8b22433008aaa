"""What the process kubelet needs to know: its API client, node name, folders and timings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from datamigration_sandbox.real.api_client import ApiClient

# A real kubelet re-syncs each pod every syncFrequency (1 min) with up to 50% jitter: a mounted
# ConfigMap's change reaches the pod 60-90 s later, unless the pod object changes meanwhile.
DEFAULT_SYNC_PERIOD = 60.0
SYNC_JITTER = 0.5


@dataclass(frozen=True)
class KubeletSettings:
    api: ApiClient
    node_name: str
    data_dir: Path
    sync_period: float = DEFAULT_SYNC_PERIOD
    path_prefix: tuple[Path, ...] = ()
    image_path_prefix: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)
    """Folders searched first by the containers of one image: what that "image" holds beyond
    this machine's PATH (tests give a stand-in image its own `dmctl`)."""
    retry_base_delay: float = 1.0
    retry_max_delay: float = 30.0

    def container_path_prefix(self, image: str | None) -> tuple[Path, ...]:
        """The folders a container of `image` finds executables in before PATH."""
        return (*self.image_path_prefix.get(image or "", ()), *self.path_prefix)

    def pod_dir(self, namespace: str, pod: str, uid: str) -> Path:
        return self.data_dir / "pods" / namespace / f"{pod}-{uid[:8]}"

    def log_path(self, namespace: str, pod: str, container: str) -> Path:
        return self.data_dir / "logs" / namespace / pod / f"{container}.log"
