"""KubeApiServer: the HTTP front end of the Kubernetes API emulator (aiohttp, one event loop).

It authenticates bearer tokens, authorizes with RBAC read from the store, serves discovery,
OpenAPI, health and version documents, and hands resource requests to ResourceEndpoints.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from datamigration_sandbox.kube import access_review, discovery, openapi, status_errors
from datamigration_sandbox.kube.auth import (
    Authenticator,
    RbacObjects,
    RequestAttributes,
    UserInfo,
    is_allowed,
)
from datamigration_sandbox.kube.request_info import (
    DiscoveryRequest,
    ResourceRequest,
    parse_path,
)
from datamigration_sandbox.kube.resource_endpoints import (
    LogSource,
    ResourceEndpoints,
    json_response,
    read_json,
)
from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.serving_certificate import ServingCertificate
from datamigration_sandbox.kube.status_errors import ApiError
from datamigration_sandbox.kube.store import Store

__all__ = ["KubeApiServer", "LogSource"]

_log = logging.getLogger(__name__)

# Who anonymous requests act as when the server runs without an authenticator.
ANONYMOUS_ADMIN = UserInfo("system:admin", ("system:masters", "system:authenticated"))
RBAC_GROUP = "rbac.authorization.k8s.io"
_RBAC_PLURALS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
_HEALTH_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
_MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's request size limit
_NOT_FOUND = "the server could not find the requested resource"
REVIEW_KEY = access_review.REVIEW_TYPE.key


class _RbacCache:
    """The store's RBAC objects, re-read only after one of them changed."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._objects: RbacObjects | None = None
        self._unsubscribe = store.subscribe(self._on_change)

    def _on_change(
        self, _event: str, rt: ResourceType, _new: dict[str, Any], _old: dict[str, Any] | None
    ) -> None:
        if rt.group == RBAC_GROUP:
            self._objects = None

    def objects(self) -> RbacObjects:
        if self._objects is None:
            lists = [
                self._store.list(self._store.lookup(RBAC_GROUP, "v1", plural), None)[0]
                for plural in _RBAC_PLURALS
            ]
            self._objects = RbacObjects(
                roles=lists[0],
                cluster_roles=lists[1],
                role_bindings=lists[2],
                cluster_role_bindings=lists[3],
            )
        return self._objects

    def close(self) -> None:
        self._unsubscribe()


class KubeApiServer:
    def __init__(
        self,
        store: Store,
        *,
        authenticator: Authenticator | None = None,
        authorization: bool = False,
        log_source: LogSource | None = None,
        tls: ServingCertificate | None = None,
    ) -> None:
        """`tls` makes the server speak HTTPS (kubectl sends bearer tokens only over TLS)."""
        if authorization and authenticator is None:
            raise ValueError("authorization needs an authenticator (anonymous users are admins)")
        self.store = store
        self._authenticator = authenticator
        # Without an authenticator, TokenRequests still get well-formed tokens nobody checks.
        self.endpoints = ResourceEndpoints(store, authenticator or Authenticator(), log_source)
        self._rbac = _RbacCache(store) if authorization else None
        store.register_type(access_review.REVIEW_TYPE)  # served by this front end, not stored
        self._tls = tls
        self._runner: web.ServerRunner | None = None
        self._watch_tasks: set[asyncio.Task[Any]] = set()
        self.url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port) and return the base URL."""
        loop = asyncio.get_running_loop()

        def make_request(
            message: Any, payload: Any, protocol: Any, writer: Any, task: Any
        ) -> web.BaseRequest:
            return web.BaseRequest(
                message, payload, protocol, writer, task, loop, client_max_size=_MAX_BODY
            )

        # No access log: kube-apiserver does not log every request either, and it is costly.
        server = web.Server(
            self._dispatch,
            request_factory=make_request,
            handler_cancellation=True,
            access_log=None,
        )
        self._runner = web.ServerRunner(server, shutdown_timeout=1.0)
        await self._runner.setup()
        ssl_context = self._tls.server_context() if self._tls else None
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.url = f"{'https' if ssl_context else 'http'}://{host}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        # Open watches would hold the shutdown until they time out: end them first.
        for task in list(self._watch_tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._rbac is not None:
            self._rbac.close()

    # --- request handling -------------------------------------------------------------------

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            user = self._authenticate(request)
            access_review.refuse_impersonation(request.headers)
            parsed = parse_path(request.path)
            if isinstance(parsed, ResourceRequest):
                return await self._resource(request, parsed, user)
            if request.method not in ("GET", "HEAD"):
                raise status_errors.method_not_allowed(
                    "the server does not allow this method on the requested resource"
                )
            if isinstance(parsed, DiscoveryRequest):
                return json_response(self._discovery(parsed))
            return self._non_resource(request)
        except ApiError as exc:
            return json_response(exc.status(), exc.code)
        except Exception as exc:
            # A bug here must still answer like an API server does: a 500 Status, logged.
            _log.exception("internal error serving %s %s", request.method, request.path)
            status = ApiError(500, "InternalError", f"Internal error occurred: {exc}")
            return json_response(status.status(), 500)

    def _authenticate(self, request: web.BaseRequest) -> UserInfo:
        if self._authenticator is None:
            return ANONYMOUS_ADMIN
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        user = self._authenticator.authenticate(token.strip()) if scheme == "Bearer" else None
        if user is None:
            raise status_errors.unauthorized()
        return user

    async def _resource(
        self, request: web.BaseRequest, req: ResourceRequest, user: UserInfo
    ) -> web.StreamResponse:
        watch = request.query.get("watch") in ("1", "true", "True")
        verb = req.verb(request.method, watch=watch)
        if not verb:
            raise status_errors.method_not_allowed(
                "the server does not allow this method on the requested resource"
            )
        # Every authenticated user may ask what it may do (the bootstrap system:basic-user role).
        self_review = (req.group, req.plural) == REVIEW_KEY
        if self._rbac is not None and not self_review:
            attrs = RequestAttributes(
                verb=verb,
                api_group=req.group,
                resource=req.plural,
                subresource=req.subresource or "",
                namespace=req.namespace,
                name=req.name,
            )
            if not is_allowed(user, attrs, self._rbac.objects()):
                raise status_errors.forbidden(user.name, verb, req.plural, req.group, req.namespace)
        if self_review:
            if verb != "create":
                raise status_errors.method_not_allowed(f"{req.plural} can only be created")
            self.store.lookup(req.group, req.version, req.plural)  # 404 for another version
            body = await read_json(request)
            answer = access_review.review(body, user, self._rbac_objects())
            return json_response(answer, 201)
        rt = self.store.lookup(req.group, req.version, req.plural)
        if verb != "watch":
            return await self.endpoints.handle(request, req, rt, verb)
        task = asyncio.current_task()
        assert task is not None
        self._watch_tasks.add(task)
        try:
            return await self.endpoints.handle(request, req, rt, verb)
        finally:
            self._watch_tasks.discard(task)

    def _rbac_objects(self) -> RbacObjects | None:
        return self._rbac.objects() if self._rbac is not None else None

    def _discovery(self, req: DiscoveryRequest) -> dict[str, Any]:
        types = self.store.types()
        if req.prefix == "api":
            if req.version is None:
                return discovery.api_versions()
            return discovery.api_resource_list(types, "", req.version)
        if req.group is None:
            return discovery.api_group_list(types)
        if req.version is None:
            return discovery.api_group(types, req.group)
        return discovery.api_resource_list(types, req.group, req.version)

    def _non_resource(self, request: web.BaseRequest) -> web.Response:
        path = request.path.rstrip("/") or "/"
        if path in _HEALTH_PATHS or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/version":
            return json_response(discovery.version_info())
        if path == "/openapi/v2":
            accept = request.headers.get("Accept", "")
            if openapi.V2_PROTOBUF in accept and "json" not in accept:
                return web.Response(body=openapi.v2_protobuf(), content_type=openapi.V2_PROTOBUF)
            return json_response(openapi.v2_document(self.store.types()))
        if path == "/openapi/v3":
            return json_response(openapi.v3_index(self.store.types()))
        if path.startswith("/openapi/v3/"):
            return self._openapi_v3(path.removeprefix("/openapi/v3/"))
        raise ApiError(404, "NotFound", _NOT_FOUND)

    def _openapi_v3(self, gv_path: str) -> web.Response:
        parts = gv_path.split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            raise ApiError(404, "NotFound", _NOT_FOUND)
        document = openapi.v3_document(self.store.types(), group, version)
        # The index hands out content-addressed URLs, so clients may cache the answer for good.
        response = json_response(document)
        response.headers["Cache-Control"] = "public, immutable"
        return response
