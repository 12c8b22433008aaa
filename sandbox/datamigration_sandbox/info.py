"""Where a running sandbox listens: written by `dmctl sandbox serve`, read by the CLI.

Kept apart from control_plane.py so reading it does not import the servers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SandboxInfo:
    """Where the running sandbox listens; written to `<data-dir>/sandbox.json`."""

    kube_url: str
    kubeconfig: str
    weaviate_http_port: int
    weaviate_grpc_port: int
    data_dir: str
    rbac: bool
    pid: int = 0
    real: bool = False  # the real servers (sandbox/real), not the emulator

    @property
    def weaviate_url(self) -> str:
        return f"http://127.0.0.1:{self.weaviate_http_port}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> SandboxInfo:
        return cls(**json.loads(text))
