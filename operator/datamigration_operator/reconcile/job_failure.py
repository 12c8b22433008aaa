"""How status.message and the Warning event word a Job that failed: why, in the Job's own words
(its pod's termination message), then the Job controller's account, then how to retry."""

from __future__ import annotations

import json
from typing import Final

from datamigration_operator.api.phases import JobState
from datamigration_operator.reconcile.observed import ObservedJob

MAX_REASON: Final = 512


def failed_job_message(
    kind: str, name: str, state: JobState | None, job: ObservedJob | None
) -> str:
    """E.g. `copy Job dm-migrate-1a2b failed: SQLite file /data/missing.db does not exist
    (exit code 42 matching FailJob rule at index 0); bump spec.rerun to retry`."""
    ended = "was deleted" if state == "Deleted" else "failed"
    why = termination_reason(job.termination_message) if job is not None else ""
    account = job.message if job is not None else ""
    if why and account:
        detail = f": {why} ({account})"
    elif why or account:
        detail = f": {why or account}"
    else:
        detail = ""
    return f"{kind} Job {name} {ended}{detail}; bump spec.rerun to retry"


def termination_reason(text: str) -> str:
    """One printable line of what a pod said at exit: our Jobs write one line; a container
    that died before it leaves the tail of its log (the kubelet's FallbackToLogsOnError),
    whose last line is taken, and the message of our JSON log lines rather than the JSON."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    if line.startswith("{"):
        try:
            document = json.loads(line)
        except ValueError:
            document = None
        if isinstance(document, dict):
            said = document.get("message") or document.get("reason")
            if isinstance(said, str) and said.strip():
                line = said.strip()
    printable = "".join(ch if ch.isprintable() else " " for ch in line)
    return " ".join(printable.split())[:MAX_REASON]
