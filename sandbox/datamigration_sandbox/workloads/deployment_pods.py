"""The Pods a Deployment's controller creates from its template (no ReplicaSet in between).

The real chain is Deployment -> ReplicaSet (named <deployment>-<pod-template-hash>) -> Pods. The
sandbox skips the ReplicaSet object: pods are owned by the Deployment itself (controller=true),
carry the `pod-template-hash` label and are named <deployment>-<hash>-<5 random>, as they would be.
"""

from __future__ import annotations

import copy
import hashlib
import json
import string
from collections.abc import Mapping
from typing import Any

from datamigration_sandbox.jobs.pod_manifest import controlled_pod, random_suffix

TEMPLATE_HASH_LABEL = "pod-template-hash"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the controller's SafeEncodeString alphabet
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


class TemplateError(ValueError):
    """A pod template the API server would reject for a Deployment."""


def template_hash(template: Mapping[str, Any]) -> str:
    """A stable 10-character hash of the pod template (what tells new pods from old)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in digest[:10])


def pod_from_deployment(deployment: Mapping[str, Any], revision: str) -> dict[str, Any]:
    meta = deployment["metadata"]
    template = copy.deepcopy((deployment.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    policy = spec.setdefault("restartPolicy", "Always")
    if policy != "Always":
        raise TemplateError(
            f'spec.template.spec.restartPolicy: Unsupported value: "{policy}": '
            'supported values: "Always"'
        )
    if not spec.get("containers"):
        raise TemplateError("spec.template.spec.containers: Required value")
    labels = {**(template_meta.get("labels") or {}), TEMPLATE_HASH_LABEL: revision}
    base = f"{meta['name']}-{revision}"[:57]
    name = f"{base}-{random_suffix()}"
    return controlled_pod(
        deployment, ("apps/v1", "Deployment"), name, f"{base}-", labels, template_meta, spec
    )
