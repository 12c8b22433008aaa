"""SelfSubjectAccessReview, SubjectAccessReview and user impersonation.

`kubectl auth can-i VERB RESOURCE [--as USER]` is how people check the RBAC we ship; it creates
a SelfSubjectAccessReview, and `--as`/`--as-group` send Impersonate-* headers that the API server
honours only for users allowed the `impersonate` verb.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from datamigration_sandbox.kube import status_errors
from datamigration_sandbox.kube.auth import (
    RbacObjects,
    RequestAttributes,
    UserInfo,
    is_allowed,
)
from datamigration_sandbox.kube.resource_kinds import ResourceType

GROUP = "authorization.k8s.io"
REVIEW_TYPES = (
    ResourceType(
        group=GROUP,
        version="v1",
        kind="SelfSubjectAccessReview",
        plural="selfsubjectaccessreviews",
        singular="selfsubjectaccessreview",
        namespaced=False,
        verbs=("create",),
    ),
    ResourceType(
        group=GROUP,
        version="v1",
        kind="SubjectAccessReview",
        plural="subjectaccessreviews",
        singular="subjectaccessreview",
        namespaced=False,
        verbs=("create",),
    ),
)
REVIEW_PLURALS = frozenset(rt.plural for rt in REVIEW_TYPES)
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"

RbacSource = Callable[[], RbacObjects | None]  # None: authorization is off (everyone allowed)


def impersonated(user: UserInfo, headers: Mapping[str, str], rbac: RbacSource) -> UserInfo:
    """The user a request acts as: `user`, or the one named by Impersonate-User/-Group."""
    target = headers.get("Impersonate-User")
    groups = tuple(value for key, value in headers.items() if key.lower() == "impersonate-group")
    if not target:
        if groups:
            raise status_errors.bad_request("impersonating groups requires impersonating a user")
        return user
    objects = rbac()
    for resource, name in (("users", target), *(("groups", g) for g in groups)):
        if objects is not None and not is_allowed(
            user,
            RequestAttributes(verb="impersonate", api_group="", resource=resource, name=name),
            objects,
        ):
            raise status_errors.forbidden(user.name, "impersonate", resource, "", None)
    implied: tuple[str, ...] = ()
    if target.startswith(SERVICE_ACCOUNT_PREFIX):
        namespace = target.removeprefix(SERVICE_ACCOUNT_PREFIX).split(":", 1)[0]
        implied = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")
    return UserInfo(target, (*groups, *implied, "system:authenticated"))


def review(
    kind: str, body: dict[str, Any], requester: UserInfo, objects: RbacObjects | None
) -> dict[str, Any]:
    """Answer an access review: status.allowed (and a reason), as the authorizer decides."""
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise status_errors.invalid(
            kind, GROUP, "", [status_errors.Cause("spec", "Required value")]
        )
    if kind == "SubjectAccessReview":
        subject = UserInfo(str(spec.get("user") or ""), tuple(spec.get("groups") or ()))
    else:
        subject = requester
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
    allowed = objects is None or is_allowed(subject, attrs, objects)
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
