"""The installed commands as a shell and kubectl use them: `dmctl --show-completion bash` is a
script that, sourced into bash, completes dmctl's commands, and the real kubectl finds
`kubectl-datamigration` on PATH (the venv's bin, where pip puts it) as the plugin
`kubectl datamigration`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from datamigration_operator import __version__

BIN = Path(sys.executable).parent
DMCTL = BIN / "dmctl"
# only the venv's bin and the system's: no plugin or dmctl from elsewhere on this machine
SEARCH_PATH = os.pathsep.join([str(BIN), "/usr/local/bin", "/usr/bin", "/bin"])
KUBECTL = shutil.which("kubectl", path=SEARCH_PATH)

needs_installed_scripts = pytest.mark.skipif(
    not DMCTL.exists(), reason="dmctl is not installed beside this Python"
)
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="no kubectl on PATH")


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": SEARCH_PATH, "KUBECONFIG": os.devnull}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)


def bash_completions(words: list[str]) -> list[str]:
    """What bash offers for `words` (the last one being typed) with dmctl's completion script
    sourced, as `dmctl --install-completion bash` arranges in ~/.bashrc."""
    script = (
        "source <(dmctl --show-completion bash) || exit 3\n"
        'function=$(complete -p dmctl | sed -E "s/.* -F ([^ ]+) .*/\\1/")\n'
        f"COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}\n"
        '"$function" dmctl\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = run(["bash", "-c", script])
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@needs_installed_scripts
def test_the_bash_completion_script_completes_commands_and_options() -> None:
    shown = run([str(DMCTL), "--show-completion", "bash"])
    assert shown.returncode == 0, shown.stderr
    assert "complete -o default -F" in shown.stdout
    assert bash_completions(["dmctl", "sta"]) == ["status"]
    assert {"list", "watch", "advance", "rollback"} <= set(bash_completions(["dmctl", ""]))
    assert "--all-namespaces" in bash_completions(["dmctl", "list", "--all"])
    # what writes it into ~/.bashrc (not run here: it edits the user's files)
    assert "--install-completion" in bash_completions(["dmctl", "--inst"])


@needs_installed_scripts
@needs_kubectl
def test_kubectl_finds_the_plugin_on_path() -> None:
    assert KUBECTL is not None
    listed = run([KUBECTL, "plugin", "list", "--name-only"])
    assert listed.returncode == 0, listed.stderr
    assert "kubectl-datamigration" in listed.stdout.split()
    version = run([KUBECTL, "datamigration", "--version"])
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"dmctl {__version__}"
    usage = run([KUBECTL, "datamigration", "advance", "chat", "swich"])
    assert usage.returncode == 2
    assert "Did you mean 'switch'?" in usage.stderr
