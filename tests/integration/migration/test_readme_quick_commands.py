"""The README's quick commands, pasted into a shell as they are, work against the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
HEADING = "Outside Kubernetes, the same engine (quick commands"


def quick_commands(readme: str) -> str:
    """The indented block after HEADING, as a shell script (continuation lines included)."""
    lines = readme[readme.index(HEADING) :].splitlines()[1:]
    while not lines[0].strip():
        lines.pop(0)
    block = []
    for line in lines:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


def test_the_quick_commands_run_as_pasted(tmp_path: Path) -> None:
    script = quick_commands((REPO / "README.md").read_text())
    assert script.startswith('eval "$(.venv/bin/dmctl sandbox up)"'), script
    assert "dmctl copy" in script
    assert "dmctl validate" in script
    assert "--weaviate" not in script  # the sandbox's environment says where
    assert "--grpc-port" not in script
    # a fresh folder with the venv where the README expects it (.venv/bin/dmctl)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DMCTL_", "KUBECONFIG"))}
    shell = (
        "set -euo pipefail\n"
        "trap '.venv/bin/dmctl sandbox down >/dev/null 2>&1 || true' EXIT\n" + script
    )
    done = subprocess.run(
        ["bash", "-c", shell],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "failed: 0" in output, output  # copy's summary
    assert "missing: 0" in output, output  # validate's
    assert "mismatched: 0" in output, output
    assert not (tmp_path / ".sandbox" / "sandbox.json").exists()  # `down` ran
