"""The Job side's only Kubernetes API code: read the checkpoint, patch progress and validation
through the status subresource, write the failed-keys report ConfigMap.

Credentials are the Job's own: the in-cluster ServiceAccount, else $KUBECONFIG (the sandbox
Job runner provides one). Nothing here logs or sends a secret: reports carry keys and
messages, never the API key.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from typing import Any, Final

from datamigration_operator.api.job_contract import MigrationRef
from datamigration_operator.api.names import (
    API_VERSION,
    GROUP,
    KIND,
    LABEL_DATAMIGRATION,
    LABEL_MANAGED_BY,
    OPERATOR_NAME,
)
from datamigration_operator.api.status import (
    BackupStatus,
    Checkpoint,
    OutboxStatus,
    Progress,
    Recreation,
    SwitchAnalysisReport,
    ValidationReport,
)
from datamigration_operator.kube.blocking import BlockingKubeClient
from datamigration_operator.kube.errors import KubeApiError, KubeError
from datamigration_operator.kube.resources import CONFIGMAPS, DATAMIGRATIONS

log = logging.getLogger(__name__)
LABEL_REPORT_OF: Final = f"{GROUP}/report-of"
MAX_REPORT_NAMES: Final = 20  # names tried per report before giving up on the ConfigMap
_MAX_NAME: Final = 253
_MAX_TOKEN: Final = 16


class ReporterError(Exception):
    """The DataMigration cannot be read or is not the one this Job was created for."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


def attempt_token(pod_name: str | None) -> str:
    """What tells this pod's report from other attempts of the same Job: the random suffix
    Kubernetes gives a Job's pod (`<job>-<5 chars>`), else random characters."""
    token = re.sub(r"[^a-z0-9]", "", (pod_name or "").rsplit("-", 1)[-1].lower())
    return token[:_MAX_TOKEN] or secrets.token_hex(4)


def report_name(job_name: str, attempt: str, sequence: int = 1) -> str:
    """`<job>-report-<attempt>`, then `-2`, `-3`, ... : a DNS-1123 subdomain of <= 253 chars."""
    tail = f"-report-{attempt}" + (f"-{sequence}" if sequence > 1 else "")
    head = job_name[: _MAX_NAME - len(tail)].rstrip("-.")
    return f"{head}{tail}"


def _dump(
    model: Progress
    | ValidationReport
    | OutboxStatus
    | SwitchAnalysisReport
    | BackupStatus
    | Recreation,
) -> dict[str, Any]:
    # None becomes null, which a merge patch turns into "remove": no field of an older
    # report lingers next to the new one.
    return model.model_dump(mode="json", by_alias=True)


class MigrationReporter:
    def __init__(
        self,
        migration: MigrationRef,
        api: BlockingKubeClient | None = None,
        *,
        attempt: str | None = None,
    ) -> None:
        """`api`: by default a client with the pod's credentials, closed by close().
        `attempt`: names this pod's reports; by default from its pod name ($HOSTNAME)."""
        self.migration = migration
        self.attempt = attempt or attempt_token(os.environ.get("HOSTNAME"))
        self._owns_api = api is None
        self._api = api or BlockingKubeClient()

    def close(self) -> None:
        if self._owns_api:
            self._api.close()

    def __enter__(self) -> MigrationReporter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _status(self) -> dict[str, Any]:
        m = self.migration
        where = f"DataMigration {m.namespace}/{m.name}"
        # The status subresource: the Job's Role grants get on datamigrations/status only.
        try:
            obj = self._api.get(DATAMIGRATIONS, m.namespace, m.name, subresource="status")
        except KubeApiError as error:
            raise ReporterError(f"cannot read {where}: {error.code} {error.reason}") from None
        except KubeError as error:
            raise ReporterError(f"cannot read {where}: {error}") from None
        if obj is None:
            raise ReporterError(f"cannot read {where}: 404 NotFound")
        uid = obj.get("metadata", {}).get("uid")
        if uid != m.uid:
            raise ReporterError(
                f"{where} has uid {uid}, this Job belongs to {m.uid}", retryable=False
            )
        status: dict[str, Any] = obj.get("status") or {}
        return status

    def read_progress(self) -> Progress | None:
        """The last published progress (with its checkpoint), or None."""
        raw = self._status().get("progress")
        return Progress.model_validate(raw) if raw else None

    def read_checkpoint(self, job_name: str) -> Checkpoint | None:
        """The checkpoint a previous pod of this same Job left; another Job's is not ours."""
        progress = self.read_progress()
        if progress is None or progress.job != job_name:
            return None
        return progress.checkpoint

    def _patch_status(self, body: dict[str, Any]) -> None:
        """Raises KubeError: a report that cannot be published fails the run (retryable)."""
        m = self.migration
        self._api.merge_patch(DATAMIGRATIONS, m.namespace, m.name, body, subresource="status")

    def publish_progress(self, progress: Progress) -> None:
        self._patch_status({"status": {"progress": _dump(progress)}})

    def publish_validation(self, report: ValidationReport) -> None:
        self._patch_status({"status": {"validation": _dump(report)}})

    def publish_switch_analysis(self, report: SwitchAnalysisReport) -> None:
        self._patch_status({"status": {"switchAnalysis": _dump(report)}})

    def publish_outbox(self, outbox: OutboxStatus) -> None:
        self._patch_status({"status": {"outbox": _dump(outbox)}})

    def read_recreation(self) -> Recreation | None:
        raw = self._status().get("recreated")
        return Recreation.model_validate(raw) if raw else None

    def publish_recreation(self, recreation: Recreation) -> None:
        self._patch_status({"status": {"recreated": _dump(recreation)}})

    def publish_backup(self, backup: BackupStatus) -> None:
        self._patch_status({"status": {"backup": _dump(backup)}})

    def write_report(self, job_name: str, lines: list[str], summary: str) -> str | None:
        """The full report as a new ConfigMap `<job>-report-<attempt>[-N]`; returns its name.

        The Job may only create ConfigMaps (builders' Job access Role): a name that is taken is
        never replaced, the next one is tried. The DataMigration owns the report, so deleting
        it deletes its reports (no blockOwnerDeletion: that would need finalizer rights).
        None when the ConfigMap cannot be written; the first keys are in status either way.
        """
        m = self.migration
        for sequence in range(1, MAX_REPORT_NAMES + 1):
            name = report_name(job_name, self.attempt, sequence)
            body = self._report_body(name, job_name, lines, summary)
            try:
                self._api.create(CONFIGMAPS, m.namespace, body)
            except KubeApiError as error:
                if error.code == 409:
                    continue
                log.warning(
                    "could not create report ConfigMap %s/%s (%s %s); the first keys are in status",
                    m.namespace,
                    name,
                    error.code,
                    error.reason,
                )
                return None
            return name
        log.warning(
            "report ConfigMaps %s/%s up to -%d already exist; the first keys are in status",
            m.namespace,
            report_name(job_name, self.attempt),
            MAX_REPORT_NAMES,
        )
        return None

    def _report_body(
        self, name: str, job_name: str, lines: list[str], summary: str
    ) -> dict[str, Any]:
        m = self.migration
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": m.namespace,
                "labels": {
                    LABEL_MANAGED_BY: OPERATOR_NAME,
                    LABEL_DATAMIGRATION: m.name,
                    LABEL_REPORT_OF: job_name[:63].rstrip("-._"),  # a label value's limit
                },
                "ownerReferences": [
                    {"apiVersion": API_VERSION, "kind": KIND, "name": m.name, "uid": m.uid}
                ],
            },
            "data": {"summary": summary, "keys": "\n".join(lines) + ("\n" if lines else "")},
        }
