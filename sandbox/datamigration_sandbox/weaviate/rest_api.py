"""The REST API (aiohttp): meta, readiness, schema and objects.

`/v1/.well-known/*` is open, as in real Weaviate; everything else needs
`Authorization: Bearer <key>` when the server has an API key. Not served (no user path of ours
asks for them): `/v1/nodes` (the client's dynamic batching and `cluster.nodes()`) and shards.
"""

from __future__ import annotations

import copy
import json
import struct
import uuid as uuid_module
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from datamigration_sandbox.weaviate.api_errors import WeaviateError, not_found, unprocessable
from datamigration_sandbox.weaviate.database import (
    Collection,
    Database,
    now_ms,
    parse_beacon,
)
from datamigration_sandbox.weaviate.property_values import PropertyValueError
from datamigration_sandbox.weaviate.schema import is_reference

VERSION = "1.32.0"
GRPC_MAX_MESSAGE_SIZE = 104_858_000
_OPEN_PREFIX = "/v1/.well-known/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": [{"message": message}]}, status=status)


class RestApi:
    def __init__(self, database: Database, api_key: str | None) -> None:
        self.database = database
        self.api_key = api_key

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=GRPC_MAX_MESSAGE_SIZE)
        route = app.router
        route.add_get("/v1/meta", self.meta)
        route.add_get("/v1/.well-known/ready", self.ok)
        route.add_get("/v1/.well-known/live", self.ok)
        route.add_get("/v1/.well-known/openid-configuration", self.no_oidc)
        route.add_get("/v1/schema", self.schema)
        route.add_post("/v1/schema", self.create_class)
        route.add_get("/v1/schema/{name}", self.get_class)
        route.add_put("/v1/schema/{name}", self.update_class)
        route.add_delete("/v1/schema/{name}", self.delete_class)
        route.add_post("/v1/schema/{name}/properties", self.add_property)
        route.add_get("/v1/objects", self.list_objects)
        route.add_post("/v1/objects", self.create_object)
        route.add_get("/v1/objects/{name}/{id}", self.get_object, allow_head=False)
        route.add_head("/v1/objects/{name}/{id}", self.head_object)
        route.add_delete("/v1/objects/{name}/{id}", self.delete_object)
        route.add_put("/v1/objects/{name}/{id}", self.replace_object)
        route.add_patch("/v1/objects/{name}/{id}", self.update_object)
        route.add_post("/v1/objects/{name}/{id}/references/{prop}", self.add_reference)
        route.add_put("/v1/objects/{name}/{id}/references/{prop}", self.replace_references)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            self.api_key is not None
            and not request.path.startswith(_OPEN_PREFIX)
            and request.headers.get("Authorization") != f"Bearer {self.api_key}"
        ):
            # as weaviate-server: no key is anonymous access, a wrong one an invalid key
            anonymous = "Authorization" not in request.headers
            message = (
                "anonymous access not enabled, please provide an auth scheme such as OIDC or "
                "API key"
                if anonymous
                else "unauthorized: invalid api key"
            )
            return web.json_response({"code": 401, "message": message}, status=401)
        try:
            return await handler(request)
        except WeaviateError as error:
            return error_response(error.status, error.message)

    async def _json(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise WeaviateError(400, f"request body is not valid JSON: {error}") from None

    # ---- meta -----------------------------------------------------------------------------

    async def meta(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "hostname": "http://[::]:8080",
                "modules": {},
                "version": VERSION,
                "grpcMaxMessageSize": GRPC_MAX_MESSAGE_SIZE,
            }
        )

    async def ok(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def no_oidc(self, request: web.Request) -> web.Response:
        return web.Response(status=404)

    # ---- schema ---------------------------------------------------------------------------

    async def schema(self, request: web.Request) -> web.Response:
        classes = [copy.deepcopy(c.schema) for c in self.database.collections.values()]
        return web.json_response({"classes": classes})

    async def create_class(self, request: web.Request) -> web.Response:
        return web.json_response(self.database.create(await self._json(request)))

    async def get_class(self, request: web.Request) -> web.Response:
        collection = self.database.find(request.match_info["name"])
        if collection is None:
            return web.Response(status=404)
        return web.json_response(collection.schema)

    async def update_class(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        return web.json_response(self.database.update_class(request.match_info["name"], body))

    async def delete_class(self, request: web.Request) -> web.Response:
        self.database.drop(request.match_info["name"])  # idempotent, as in real Weaviate
        return web.Response(status=200)

    async def add_property(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        return web.json_response(self.database.add_property(request.match_info["name"], body))

    def _lookup(self, request: web.Request) -> tuple[Collection, str, dict[str, Any] | None]:
        collection = self.database.get(request.match_info["name"])
        uuid = _uuid(request.match_info["id"])
        return collection, uuid, collection.objects.get(uuid)

    async def get_object(self, request: web.Request) -> web.Response:
        try:
            _, _, obj = self._lookup(request)
        except WeaviateError:
            return web.Response(status=404)
        if obj is None:
            return web.Response(status=404)
        include = request.query.get("include", "")
        return web.json_response(object_json(obj, include_vector="vector" in include))

    async def head_object(self, request: web.Request) -> web.Response:
        try:
            _, _, obj = self._lookup(request)
        except WeaviateError:
            return web.Response(status=404)
        return web.Response(status=404 if obj is None else 204)

    async def delete_object(self, request: web.Request) -> web.Response:
        collection, uuid, _ = self._lookup(request)
        return web.Response(status=204 if collection.delete(uuid) else 404)

    async def list_objects(self, request: web.Request) -> web.Response:
        query = request.query
        limit = _int_param(query.get("limit", "25"), "limit")
        name = query.get("class")
        collections = (
            [self.database.get(name)] if name else list(self.database.collections.values())
        )
        after = query.get("after")
        if after is not None and not name:
            raise unprocessable("'after' requires 'class'")
        found: list[dict[str, Any]] = []
        for collection in collections:
            ids = collection.ids_after(after.lower()) if after else iter(collection.sorted_ids())
            for uuid in ids:
                if len(found) >= limit:
                    break
                found.append(collection.objects[uuid])
        include = "vector" in query.get("include", "")
        return web.json_response(
            {"objects": [object_json(o, include) for o in found], "totalResults": len(found)}
        )

    async def create_object(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if not isinstance(body, dict) or not isinstance(body.get("class"), str):
            raise unprocessable("an object needs a 'class'")
        collection = self.database.get(body["class"])
        uuid = _uuid(body["id"]) if body.get("id") else str(uuid_module.uuid4())
        if uuid in collection.objects:
            raise unprocessable(f"id '{uuid}' already exists")
        obj = self._build(collection, uuid, body, None)
        collection.put(obj)
        return web.json_response(object_json(obj, include_vector=False))

    async def replace_object(self, request: web.Request) -> web.Response:
        collection, uuid, old = self._lookup(request)
        if old is None:
            return web.Response(status=404)
        obj = self._build(collection, uuid, await self._json(request), None)
        collection.put(obj)
        return web.json_response(object_json(obj, include_vector=False))

    async def update_object(self, request: web.Request) -> web.Response:
        collection, uuid, old = self._lookup(request)
        if old is None:
            return web.Response(status=404)
        collection.put(self._build(collection, uuid, await self._json(request), old))
        return web.Response(status=204)

    async def add_reference(self, request: web.Request) -> web.Response:
        collection, uuid, obj = self._lookup(request)
        if obj is None:
            raise not_found(f"source object {uuid} not found")
        name = request.match_info["prop"]
        prop = collection.property(name)
        if prop is None or not is_reference(prop):
            raise unprocessable(f"'{name}' is not a reference property of {collection.name}")
        body = await self._json(request)
        obj["properties"].setdefault(name, []).extend(_beacons(body, prop))
        obj["lastUpdateTimeUnix"] = now_ms()
        return web.Response(status=200)

    async def replace_references(self, request: web.Request) -> web.Response:
        """The property's references become the body's beacons (an empty list clears it). As
        Weaviate does, a beacon to an object it does not hold is refused and nothing changes."""
        collection, uuid, obj = self._lookup(request)
        if obj is None:
            raise not_found(f"source object {uuid} not found")
        name = request.match_info["prop"]
        prop = collection.property(name)
        if prop is None or not is_reference(prop):
            raise unprocessable(f"'{name}' is not a reference property of {collection.name}")
        body = await self._json(request)
        beacons = _beacons(body, prop) if body != [] else []
        for ref in beacons:
            target_class, target = parse_beacon(ref["beacon"])
            found = self.database.find(target_class or prop["dataType"][0])
            if found is None or target not in found.objects:
                raise unprocessable(
                    "msg:validate existence code:400 err:validate reference: "
                    f"no object with id {target}"
                )
        obj["properties"][name] = beacons
        obj["lastUpdateTimeUnix"] = now_ms()
        return web.Response(status=200)

    def _build(
        self, collection: Collection, uuid: str, body: Any, old: dict[str, Any] | None
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise unprocessable("an object must be a JSON object")
        given = body.get("properties") or {}
        if not isinstance(given, dict):
            raise unprocessable("properties must be an object")
        plain: dict[str, Any] = {}
        references: dict[str, Any] = {}
        for key, value in given.items():
            prop = collection.property(key)
            if prop is not None and is_reference(prop):
                references[key] = _beacons(value, prop)
            else:
                plain[key] = value
        try:
            properties = collection.check_properties(
                plain,
                auto_schema=self.database.auto_schema,
                known_classes=self.database.collections,
                rest=True,
            )
        except PropertyValueError as error:
            raise unprocessable(str(error)) from None
        properties.update(references)
        stamp = now_ms()
        if old is not None:  # PATCH merges into the stored object
            properties = {**old["properties"], **properties}
        vector = _packed(body["vector"]) if body.get("vector") else None
        named = body.get("vectors") or {}
        if not isinstance(named, dict):
            raise unprocessable("vectors must map names to vectors")
        vectors = {name: (_packed(values), False) for name, values in named.items()}
        if old is not None:
            vector = vector or old["vector"]
            vectors = {**old["vectors"], **vectors}
        return {
            "id": uuid,
            "class": collection.name,
            "properties": properties,
            "vector": vector,
            "vectors": vectors,
            "creationTimeUnix": stamp if old is None else old["creationTimeUnix"],
            "lastUpdateTimeUnix": stamp,
        }


def object_json(obj: dict[str, Any], include_vector: bool) -> dict[str, Any]:
    properties = {
        key: _with_href(value) if _is_beacon_list(value) else value
        for key, value in obj["properties"].items()
    }
    out: dict[str, Any] = {
        "class": obj["class"],
        "creationTimeUnix": obj["creationTimeUnix"],
        "id": obj["id"],
        "lastUpdateTimeUnix": obj["lastUpdateTimeUnix"],
        "properties": properties,
    }
    if include_vector:
        if obj["vector"] is not None:
            out["vector"] = _unpacked(obj["vector"])
        out["vectors"] = {
            name: _unpacked(data) for name, (data, multi) in obj["vectors"].items() if not multi
        }
    return out


def _is_beacon_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], dict)
        and "beacon" in value[0]
    )


def _with_href(refs: list[dict[str, str]]) -> list[dict[str, str]]:
    out = []
    for ref in refs:
        target_class, uuid = parse_beacon(ref["beacon"])
        path = f"{target_class}/{uuid}" if target_class else uuid
        out.append({"beacon": ref["beacon"], "href": f"/v1/objects/{path}"})
    return out


def _beacons(value: Any, prop: dict[str, Any]) -> list[dict[str, str]]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("beacon"), str):
            raise unprocessable(f"reference property '{prop['name']}' needs beacons")
        try:
            target_class, uuid = parse_beacon(item["beacon"])
        except ValueError as error:
            raise unprocessable(str(error)) from None
        target_class = target_class or prop["dataType"][0]
        if target_class not in prop["dataType"]:
            raise unprocessable(
                f"target class {target_class} is not allowed for reference property "
                f"'{prop['name']}'"
            )
        out.append({"beacon": f"weaviate://localhost/{target_class}/{_uuid(uuid)}"})
    return out


def _uuid(value: str) -> str:
    try:
        return str(uuid_module.UUID(value))
    except ValueError:
        raise unprocessable(f"'{value}' is not a valid uuid") from None


def _int_param(value: str, name: str) -> int:
    try:
        parsed = int(value)
    except ValueError:
        raise WeaviateError(400, f"{name} must be an integer") from None
    if parsed < 0:
        raise WeaviateError(400, f"{name} must be >= 0")
    return parsed


def _packed(values: Any) -> bytes:
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise unprocessable("a vector must be a list of numbers")
    return struct.pack(f"<{len(values)}f", *values)


def _unpacked(data: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(data) // 4}f", data))
