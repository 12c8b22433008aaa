"""`dmctl copy` in a terminal (a pseudo-terminal here): the progress bar of `dmctl watch`, with
rows, rows/s and the time left, redrawn while the copy runs; then the summary."""

from __future__ import annotations

import os
import pty
import re
import subprocess

from datamigration_sandbox.sample_data import SampleDatabase
from tests.integration.migration.conftest import DMCTL, RunningWeaviate, cli_env

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """`argv` with stdout and stderr on a pseudo-terminal; its exit code and what it drew."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(60), b"".join(chunks).decode(errors="replace")


def test_copy_draws_the_watch_progress_bar_in_a_terminal(
    weaviate: RunningWeaviate, database: SampleDatabase
) -> None:
    # ~2 s of copying (27 batches of 150 ms, two in flight): several redraws of the bar
    weaviate.server.faults.update({"latency_ms": 150})
    argv = [
        *DMCTL, "copy", "--sqlite", str(database.path), "--weaviate", weaviate.url,
        "--grpc-port", str(weaviate.grpc_port), "--table", "conversations:Conversation",
        "--table", "messages:Message", "--namespace", "tty", "--batch-size", "100",
    ]  # fmt: skip
    env = {**cli_env(), "TERM": "xterm-256color", "COLUMNS": "120"}
    code, drawn = run_in_terminal(argv, env)
    text = ANSI.sub("", drawn)
    assert code == 0, text[-2000:]
    rows = database.counts["conversations"] + database.counts["messages"]
    assert "\x1b[" in drawn  # a live display, redrawn in place
    assert re.search(r"copy (conversations|messages) .*\d+% .*rows/s .*eta \d+:\d\d:\d\d", text)
    assert f"{rows}/{rows} rows" in text
    assert "100%" in text
    assert f"written: {rows}" in text
    # not the line output of a pipe
    assert f"({100}%)" not in text
