"""dmctl list / status / watch / advance / rollback against a real operator: what a user types to
drive it, in the namespace of the kubeconfig's context as kubectl does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.integration.operator.conftest import (
    OperatorProcess,
    Sandbox,
    config_map_mode,
    new_datamigration,
    own_collection,
    settled,
    wait_for,
)

NAME = "cli"


def dmctl(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datamigration_operator.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "COLUMNS": "200"},
    )


def test_advance_status_and_rollback(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    new_datamigration(sandbox, namespace, NAME)
    wait_for(lambda: settled(sandbox, namespace, NAME, "migrate"), "migrate to settle")

    refused = dmctl(sandbox, "advance", NAME, "switch", "-n", namespace)
    assert refused.returncode == 1
    assert "cannot change from migrate to switch" in " ".join(refused.stdout.split())
    assert config_map_mode(sandbox, namespace) == "sqlite_only"

    moved = dmctl(sandbox, "advance", NAME, "dual-write", "-n", namespace, "--wait", "60")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "dual-write: Succeeded" in moved.stdout
    assert config_map_mode(sandbox, namespace) == "dual_write"

    shown = dmctl(sandbox, "status", NAME, "-n", namespace)
    assert shown.returncode == 0, shown.stderr
    assert "dual-write (observed: dual-write)" in shown.stdout
    assert "DualWriteReady" in shown.stdout

    rolled = dmctl(sandbox, "rollback", NAME, "-n", namespace)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "rollback: Succeeded" in rolled.stdout
    assert config_map_mode(sandbox, namespace) == "sqlite_only"

    missing = dmctl(sandbox, "status", "no-such-migration", "-n", namespace)
    assert missing.returncode == 1
    assert "not found" in missing.stdout


def _context_kubeconfig(sandbox: Sandbox, namespace: str, path: Path) -> Path:
    """The sandbox's kubeconfig with its current context's namespace set, as
    `kubectl config set-context --current --namespace NS` writes it."""
    config = yaml.safe_load(sandbox.kubeconfig.read_text())
    current = config["current-context"]
    for context in config["contexts"]:
        if context["name"] == current:
            context["context"]["namespace"] = namespace
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_context_namespace_list_output_formats_and_watch(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    """Without -n every command acts in the kubeconfig context's namespace (not default), as
    kubectl does; list, -o json|yaml|wide and watch work there, and kubectl shows the same."""
    kubeconfig = _context_kubeconfig(sandbox, namespace, tmp_path / "kubeconfig")
    env = {"KUBECONFIG": str(kubeconfig)}
    # both name ctx-a's collection, so ctx-b, the younger, is Blocked
    collections = [{"table": "items", "collection": own_collection(namespace, "ctx-a")}]
    new_datamigration(sandbox, namespace, "ctx-a", collections=collections)
    sandbox.behave(namespace, "ctx-a", "copy", sleep=2)
    watched = dmctl_env(env, "watch", "ctx-a", "--timeout", "60", "--interval", "0.2")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert f"datamigration {namespace}/ctx-a migrate: Succeeded" in watched.stdout
    assert "100%" in watched.stdout

    # a second migration into the same collection is Blocked: watch ends with 1 and the reason
    new_datamigration(sandbox, namespace, "ctx-b", collections=collections)
    blocked = dmctl_env(env, "watch", "ctx-b", "--timeout", "60", "--interval", "0.2")
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "migrate: Blocked" in blocked.stdout
    assert f"belongs to DataMigration {namespace}/ctx-a" in " ".join(blocked.stdout.split())

    listed = dmctl_env(env, "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert document["kind"] == "List"
    assert [d["metadata"]["name"] for d in document["items"]] == ["ctx-a", "ctx-b"]
    assert {d["metadata"]["namespace"] for d in document["items"]} == {namespace}

    table = dmctl_env(env, "list", "-o", "wide").stdout.splitlines()
    assert table[0].split() == [
        *("NAME", "PHASE", "STATE", "MODE", "PROGRESS", "VALIDATED", "AGE"),
        *("REASON", "APPLIED", "ROWS", "ETA", "MESSAGE"),
    ]
    assert table[1].split()[:4] == ["ctx-a", "migrate", "Succeeded", "sqlite_only"]
    assert "PhaseComplete" in table[1]
    assert table[2].split()[:3] == ["ctx-b", "migrate", "Blocked"]
    assert "CollectionOwnedByOther" in table[2]

    everywhere = dmctl_env(env, "list", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert f"{namespace}   ctx-a" in "\n".join(everywhere)

    shown = yaml.safe_load(dmctl_env(env, "status", "ctx-a", "-o", "yaml").stdout)
    assert shown["metadata"]["namespace"] == namespace
    assert shown["status"]["state"] == "Succeeded"
    wide = dmctl_env(env, "status", "ctx-a", "-o", "wide").stdout
    assert "ctx-a-migrate-" in wide  # its Job
    assert "migrate Succeeded" in wide  # its history

    # kubectl datamigration is the same program; kubectl's own -o wide shows the new columns
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        got = subprocess.run(
            [kubectl, "get", "dm", "-o", "wide"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
        ).stdout.splitlines()
        assert got[0].split()[-5:] == ["REASON", "APPLIED", "ROWS", "ETA", "MESSAGE"]
        # the plugin: kubectl finds kubectl-datamigration beside this Python
        plugin_path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        plugin = subprocess.run(
            [kubectl, "datamigration", "status", "ctx-a"],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **env, "PATH": plugin_path, "COLUMNS": "200"},
        )
        assert plugin.returncode == 0, plugin.stderr
        assert f"datamigration {namespace}/ctx-a" in plugin.stdout

    # nothing was looked for in default
    empty = dmctl_env(env, "list", "-n", "default")
    assert empty.returncode == 0
    assert "No DataMigrations found in the default namespace" in empty.stderr


def dmctl_env(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datamigration_operator.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={**os.environ, "COLUMNS": "200", **env},
    )
