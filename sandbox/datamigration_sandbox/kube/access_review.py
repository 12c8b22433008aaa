"""SelfSubjectAccessReview: what the caller may do, as the authorizer decides.

The Python client's `create_self_subject_access_review` (JSON) is how a test asks what a Job's
ServiceAccount may do. Impersonation (`kubectl --as`, Impersonate-* headers) is not emulated:
such a request is refused rather than served as the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datamigration_sandbox.kube import status_errors
from datamigration_sandbox.kube.auth import RbacObjects, RequestAttributes, UserInfo, is_allowed
from datamigration_sandbox.kube.resource_kinds import ResourceType

GROUP = "authorization.k8s.io"
REVIEW_TYPE = ResourceType(
    group=GROUP,
    version="v1",
    kind="SelfSubjectAccessReview",
    plural="selfsubjectaccessreviews",
    singular="selfsubjectaccessreview",
    namespaced=False,
    verbs=("create",),
)


def refuse_impersonation(headers: Mapping[str, str]) -> None:
    """A 400 for a request that asks to act as someone else (not emulated)."""
    if any(key.lower().startswith("impersonate-") for key in headers):
        raise status_errors.bad_request("the sandbox does not emulate impersonation (--as)")


def review(
    body: dict[str, Any], requester: UserInfo, objects: RbacObjects | None
) -> dict[str, Any]:
    """Answer a SelfSubjectAccessReview: status.allowed (and a reason), as RBAC decides."""
    kind = REVIEW_TYPE.kind
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise status_errors.invalid(
            kind, GROUP, "", [status_errors.Cause("spec", "Required value")]
        )
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if isinstance(resource, dict):
        attrs = RequestAttributes(
            verb=str(resource.get("verb") or ""),
            api_group=str(resource.get("group") or ""),
            resource=str(resource.get("resource") or ""),
            subresource=str(resource.get("subresource") or ""),
            namespace=resource.get("namespace") or None,
            name=resource.get("name") or None,
        )
    elif isinstance(non_resource, dict):
        attrs = RequestAttributes(
            verb=str(non_resource.get("verb") or ""),
            api_group="",
            resource="",
            path=str(non_resource.get("path") or ""),
        )
    else:
        cause = status_errors.Cause(
            "spec.resourceAttributes", "Required value: resourceAttributes or nonResourceAttributes"
        )
        raise status_errors.invalid(kind, GROUP, "", [cause])
    allowed = objects is None or is_allowed(requester, attrs, objects)
    status: dict[str, Any] = {"allowed": allowed}
    if allowed:
        status["reason"] = "allowed by the sandbox RBAC" if objects else "authorization is off"
    return {
        "kind": kind,
        "apiVersion": f"{GROUP}/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }
