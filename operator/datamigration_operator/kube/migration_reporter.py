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
from typing import Any, Final, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from datamigration_operator.api.job_contract import MigrationRef
from datamigration_operator.api.names import (
    API_VERSION,
    GROUP,
    KIND,
    LABEL_DATAMIGRATION,
    LABEL_MANAGED_BY,
    OPERATOR_NAME,
    PLURAL,
    VERSION,
)
from datamigration_operator.api.status import (
    Checkpoint,
    OutboxStatus,
    Progress,
    ValidationReport,
)

log = logging.getLogger(__name__)
MERGE_PATCH = "application/merge-patch+json"
LABEL_REPORT_OF: Final = f"{GROUP}/report-of"
MAX_REPORT_NAMES: Final = 20  # names tried per report before giving up on the ConfigMap
_MAX_NAME: Final = 253
_MAX_TOKEN: Final = 16


class ReporterError(Exception):
    """The DataMigration cannot be read or is not the one this Job was created for."""


def load_api_client() -> client.ApiClient:
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.ApiClient()


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


def _dump(model: Progress | ValidationReport | OutboxStatus) -> dict[str, Any]:
    # None becomes null, which a merge patch turns into "remove": no field of an older
    # report lingers next to the new one.
    return model.model_dump(mode="json", by_alias=True)


class MigrationReporter:
    def __init__(
        self,
        migration: MigrationRef,
        api: client.ApiClient | None = None,
        *,
        attempt: str | None = None,
    ) -> None:
        """`attempt`: names this pod's reports; by default from its pod name ($HOSTNAME)."""
        self.migration = migration
        self.attempt = attempt or attempt_token(os.environ.get("HOSTNAME"))
        self._api = api or load_api_client()
        self._custom = client.CustomObjectsApi(self._api)
        self._core = client.CoreV1Api(self._api)

    def _status(self) -> dict[str, Any]:
        m = self.migration
        try:
            obj = cast(
                dict[str, Any],
                self._custom.get_namespaced_custom_object_status(
                    GROUP, VERSION, m.namespace, PLURAL, m.name
                ),
            )
        except ApiException as error:
            raise ReporterError(
                f"cannot read DataMigration {m.namespace}/{m.name}: {error.status} {error.reason}"
            ) from None
        uid = obj.get("metadata", {}).get("uid")
        if uid != m.uid:
            raise ReporterError(
                f"DataMigration {m.namespace}/{m.name} has uid {uid}, this Job belongs to {m.uid}"
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
        m = self.migration
        self._custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, m.namespace, PLURAL, m.name, body, _content_type=MERGE_PATCH
        )

    def publish_progress(self, progress: Progress) -> None:
        self._patch_status({"status": {"progress": _dump(progress)}})

    def publish_validation(self, report: ValidationReport) -> None:
        self._patch_status({"status": {"validation": _dump(report)}})

    def publish_outbox(self, outbox: OutboxStatus) -> None:
        self._patch_status({"status": {"outbox": _dump(outbox)}})

    def write_report(self, job_name: str, lines: list[str], summary: str) -> str | None:
        """The full report as a new ConfigMap `<job>-report-<attempt>[-N]`; returns its name.

        The Job may only create ConfigMaps (manifests/job-rbac.yaml): a name that is taken is
        never replaced, the next one is tried. The DataMigration owns the report, so deleting
        it deletes its reports (no blockOwnerDeletion: that would need finalizer rights).
        None when the ConfigMap cannot be written; the first keys are in status either way.
        """
        m = self.migration
        for sequence in range(1, MAX_REPORT_NAMES + 1):
            name = report_name(job_name, self.attempt, sequence)
            body: Any = self._report_body(name, job_name, lines, summary)  # the client takes dicts
            try:
                self._core.create_namespaced_config_map(m.namespace, body)
            except ApiException as error:
                if error.status == 409:
                    continue
                log.warning(
                    "could not create report ConfigMap %s/%s (%s %s); the first keys are in status",
                    m.namespace,
                    name,
                    error.status,
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
