"""The resource verbs (get, list, watch, create, update, patch, delete, deletecollection) and the
subresources (status, pods/log, serviceaccounts/token) on top of the Store."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from aiohttp import web
from multidict import MultiMapping

from datamigration_sandbox.kube import status_errors
from datamigration_sandbox.kube.auth import Authenticator
from datamigration_sandbox.kube.field_validation import FieldValidation
from datamigration_sandbox.kube.list_paging import paginate, parse_limit
from datamigration_sandbox.kube.patches import apply_patch
from datamigration_sandbox.kube.request_info import ResourceRequest
from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError
from datamigration_sandbox.kube.store import Store
from datamigration_sandbox.kube.tables import build_table
from datamigration_sandbox.kube.watch_stream import (
    WatchStreamer,
    parse_timeout,
    stream_error,
)

LogSource = Callable[[str, str, str | None], str | None]

_TRUE = ("1", "true", "True")
_DEFAULT_TOKEN_SECONDS = 3600


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def table_version(accept: str) -> str | None:
    """The meta.k8s.io Table version the Accept header asks for first, or None for plain JSON."""
    for media_range in accept.split(","):
        media_type, *raw_params = (part.strip() for part in media_range.split(";"))
        params = dict(p.split("=", 1) for p in raw_params if "=" in p)
        if media_type not in ("application/json", "*/*", "application/*"):
            continue  # protobuf, yaml: not served, try the client's next choice
        if "as" not in params:
            return None
        is_table = params["as"] == "Table" and params.get("g") == "meta.k8s.io"
        if is_table and params.get("v") in ("v1", "v1beta1"):
            return params["v"]
    return None


def _dry_run(query: MultiMapping[str], body: dict[str, Any] | None = None) -> bool:
    values = list(query.getall("dryRun", []))
    if body is not None:
        values.extend(body.get("dryRun") or [])
    for value in values:
        if value != "All":
            raise status_errors.bad_request(
                f'dryRun: Unsupported value: "{value}": supported values: "All"'
            )
    return bool(values)


async def read_json(request: web.BaseRequest, *, required: bool = True) -> Any:
    content_type = request.headers.get("Content-Type", "")
    if "protobuf" in content_type or "cbor" in content_type:
        # kubectl's imperative `create namespace|configmap|secret|...` and `auth can-i` send
        # protobuf, which the emulator does not decode (the real API server does)
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            f"application/json, application/yaml (got {content_type}); the sandbox does not "
            "decode protobuf: send it as JSON or YAML (e.g. `kubectl create --dry-run=client "
            "-o yaml ... | kubectl apply -f -`)",
        )
    raw = await request.read()
    if not raw:
        if required:
            raise status_errors.bad_request("the body of the request is empty")
        return None
    if content_type.startswith("application/yaml"):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise status_errors.bad_request(
                f"the body of the request could not be decoded: {exc}"
            ) from None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise status_errors.bad_request(
            f"the body of the request could not be decoded as JSON: {exc}"
        ) from None


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise status_errors.bad_request("the body of the request must be a JSON object")
    return body


class ResourceEndpoints:
    """Answers one parsed resource request; every answer is JSON (or a JSON-lines stream)."""

    bookmark_interval = 30.0

    def __init__(
        self, store: Store, token_minter: Authenticator, log_source: LogSource | None
    ) -> None:
        self.store = store
        self._minter = token_minter
        self._log_source = log_source
        self._validation = FieldValidation()

    async def handle(
        self, request: web.BaseRequest, req: ResourceRequest, rt: ResourceType, verb: str
    ) -> web.StreamResponse:
        namespace = req.namespace if rt.namespaced else None
        if rt.namespaced is False and req.namespace and req.plural != "namespaces":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if req.subresource is not None:
            return await self._subresource(request, req, rt, namespace, verb)
        if verb not in rt.verbs:
            raise status_errors.method_not_allowed(
                f"{verb} is not supported on resources of kind {rt.plural}"
            )
        if req.name is None:
            if verb == "list":
                return self._list(request, rt, namespace)
            if verb == "watch":
                return await self._watch(request, rt, namespace, None)
            if verb == "create":
                return await self._create(request, rt, namespace)
            if verb == "deletecollection":
                return self._delete_collection(request, rt, namespace)
        else:
            if verb == "get":
                return self._object(request, rt, self.store.get(rt, namespace, req.name))
            if verb == "watch":
                return await self._watch(request, rt, namespace, req.name)
            if verb == "update":
                return await self._update(request, rt, namespace, req.name, None)
            if verb == "patch":
                return await self._patch(request, rt, namespace, req.name, None)
            if verb == "delete":
                return await self._delete(request, rt, namespace, req.name)
        raise status_errors.method_not_allowed(
            "the server does not allow this method on the requested resource"
        )

    # --- reads ------------------------------------------------------------------------------

    def _object(
        self, request: web.BaseRequest, rt: ResourceType, obj: dict[str, Any]
    ) -> web.Response:
        version = table_version(request.headers.get("Accept", ""))
        if version is None:
            return json_response(obj)
        include = request.query.get("includeObject", "Metadata")
        return json_response(build_table(rt, [obj], table_version=version, include_object=include))

    def _list(
        self, request: web.BaseRequest, rt: ResourceType, namespace: str | None
    ) -> web.Response:
        query = request.query
        items, rv = self.store.list(
            rt,
            namespace,
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
        )
        page, list_meta = paginate(
            items, rv, limit=parse_limit(query.get("limit")), continue_token=query.get("continue")
        )
        version = table_version(request.headers.get("Accept", ""))
        if version is not None:
            include = query.get("includeObject", "Metadata")
            table = build_table(
                rt, page, table_version=version, include_object=include, list_meta=list_meta
            )
            return json_response(table)
        body: dict[str, Any] = {"kind": rt.list_kind, "apiVersion": rt.api_version}
        body.update(metadata=list_meta, items=page)
        return json_response(body)

    async def _watch(
        self, request: web.BaseRequest, rt: ResourceType, namespace: str | None, name: str | None
    ) -> web.StreamResponse:
        query = request.query
        field_selector = query.get("fieldSelector", "")
        if name is not None:  # the deprecated /watch/.../{name} form
            by_name = f"metadata.name={name}"
            field_selector = f"{field_selector},{by_name}" if field_selector else by_name
        timeout = parse_timeout(query.get("timeoutSeconds"))
        try:
            watch = self.store.watch(
                rt,
                namespace,
                resource_version=query.get("resourceVersion") or None,
                label_selector=query.get("labelSelector", ""),
                field_selector=field_selector,
            )
        except ApiError as exc:
            if exc.code != 410:
                raise
            return await stream_error(request, exc)
        streamer = WatchStreamer(
            rt,
            watch,
            lambda: self.store.resource_version,
            timeout=timeout,
            bookmarks=query.get("allowWatchBookmarks") in _TRUE,
            bookmark_interval=self.bookmark_interval,
            transform=self._watch_table(request, rt),
        )
        return await streamer.serve(request)

    @staticmethod
    def _watch_table(
        request: web.BaseRequest, rt: ResourceType
    ) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
        """For a watch that asks for Tables: one single-row Table per event, with the column
        definitions only in the first (as kube-apiserver sends them)."""
        version = table_version(request.headers.get("Accept", ""))
        if version is None:
            return None
        include = request.query.get("includeObject", "Metadata")
        sent_headers = False

        def to_table(obj: dict[str, Any]) -> dict[str, Any]:
            nonlocal sent_headers
            table = build_table(rt, [obj], table_version=version, include_object=include)
            if sent_headers:
                table["columnDefinitions"] = []
            sent_headers = True
            return table

        return to_table

    # --- writes -----------------------------------------------------------------------------

    async def _create(
        self, request: web.BaseRequest, rt: ResourceType, namespace: str | None
    ) -> web.Response:
        body = _require_object(await read_json(request))
        headers = self._validation.check(request.query.get("fieldValidation"), rt, body)
        created = self.store.create(rt, namespace, body, dry_run=_dry_run(request.query))
        return json_response(created, 201, headers)

    async def _update(
        self,
        request: web.BaseRequest,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        subresource: str | None,
    ) -> web.Response:
        body = _require_object(await read_json(request))
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise status_errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        headers = self._validation.check(request.query.get("fieldValidation"), rt, body)
        updated = self.store.update(
            rt, namespace, name, body, subresource=subresource, dry_run=_dry_run(request.query)
        )
        return json_response(updated, 200, headers)

    async def _patch(
        self,
        request: web.BaseRequest,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        subresource: str | None,
    ) -> web.Response:
        content_type = request.headers.get("Content-Type", "")
        body = await read_json(request)
        dry_run = _dry_run(request.query)
        directive = request.query.get("fieldValidation")
        headers: dict[str, str] = {}
        if directive not in (None, "", "Ignore") and rt.schema is not None:
            # Unknown fields are judged on the patched object, before anything is stored.
            current = self.store.get(rt, namespace, name)
            candidate = apply_patch(content_type, current, body, strategic_allowed=False)
            headers = self._validation.check(directive, rt, candidate)
        patched = self.store.patch(
            rt, namespace, name, content_type, body, subresource=subresource, dry_run=dry_run
        )
        return json_response(patched, 200, headers)

    async def _delete(
        self, request: web.BaseRequest, rt: ResourceType, namespace: str | None, name: str
    ) -> web.Response:
        options = await read_json(request, required=False) or {}
        if not isinstance(options, dict):
            raise status_errors.bad_request("DeleteOptions must be a JSON object")
        policy = options.get("propagationPolicy") or request.query.get("propagationPolicy")
        if options.get("orphanDependents") is True and policy is None:
            policy = "Orphan"
        deleted = self.store.delete(
            rt,
            namespace,
            name,
            propagation_policy=policy,
            preconditions=options.get("preconditions"),
            dry_run=_dry_run(request.query, options),
        )
        return json_response(deleted)

    def _delete_collection(
        self, request: web.BaseRequest, rt: ResourceType, namespace: str | None
    ) -> web.Response:
        deleted = self.store.delete_collection(
            rt,
            namespace,
            label_selector=request.query.get("labelSelector", ""),
            field_selector=request.query.get("fieldSelector", ""),
        )
        body: dict[str, Any] = {"kind": rt.list_kind, "apiVersion": rt.api_version}
        body.update(metadata={}, items=deleted)
        return json_response(body)

    # --- subresources -----------------------------------------------------------------------

    async def _subresource(
        self,
        request: web.BaseRequest,
        req: ResourceRequest,
        rt: ResourceType,
        namespace: str | None,
        verb: str,
    ) -> web.StreamResponse:
        name, sub = req.name, req.subresource
        assert name is not None
        assert sub is not None
        if sub not in rt.subresources and not (sub == "finalize" and rt.plural == "namespaces"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub == "log" and verb == "get":
            return self._log(request, rt, namespace, name)
        if sub == "token" and verb == "create":
            return await self._token(request, rt, namespace, name)
        if sub in ("status", "finalize"):
            if verb == "get":
                return self._object(request, rt, self.store.get(rt, namespace, name))
            if verb == "update":
                return await self._update(request, rt, namespace, name, sub)
            if verb == "patch" and sub == "status":
                return await self._patch(request, rt, namespace, name, sub)
        raise status_errors.method_not_allowed(f"{verb} is not supported on {rt.plural}/{sub}")

    def _log(
        self, request: web.BaseRequest, rt: ResourceType, namespace: str | None, name: str
    ) -> web.Response:
        self.store.get(rt, namespace, name)  # 404 for a pod that does not exist
        container = request.query.get("container")
        text = None
        if self._log_source is not None and namespace is not None:
            text = self._log_source(namespace, name, container)
        if text is None:
            raise status_errors.bad_request(
                f'container "{container or name}" in pod "{name}" is waiting to start: '
                "no logs available"
            )
        return web.Response(text=text, content_type="text/plain")

    async def _token(
        self, request: web.BaseRequest, rt: ResourceType, namespace: str | None, name: str
    ) -> web.Response:
        self.store.get(rt, namespace, name)  # 404 for an unknown ServiceAccount
        body = _require_object(await read_json(request, required=False) or {})
        spec = dict(body.get("spec") or {})
        seconds = spec.get("expirationSeconds", _DEFAULT_TOKEN_SECONDS)
        if not isinstance(seconds, int) or seconds < 600:
            raise status_errors.invalid(
                "TokenRequest",
                "authentication.k8s.io",
                name,
                [
                    status_errors.Cause(
                        "spec.expirationSeconds", "may not specify a duration less than 10 minutes"
                    )
                ],
            )
        spec["expirationSeconds"] = seconds
        spec.setdefault("audiences", [])
        assert namespace is not None
        now = datetime.now(UTC)
        expires = (now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        token_request = {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "creationTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "spec": spec,
            "status": {
                "token": self._minter.mint_service_account_token(namespace, name),
                "expirationTimestamp": expires,
            },
        }
        return json_response(token_request, 201)
