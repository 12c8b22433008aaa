"""The chat service's JSON HTTP API (aiohttp); store calls run on worker threads.

POST   /conversations                 {"title", "user_id"?}            -> 201 conversation
GET    /conversations/{id}                                             -> conversation | 404
DELETE /conversations/{id}            (and its messages)               -> 204 | 404
GET    /conversations/{id}/messages?limit=N                            -> [message]
POST   /conversations/{id}/messages   {"role", "content", "tokens"?}   -> 201 message | 404
PATCH  /messages/{id}                 {"content"}                      -> message | 404
DELETE /messages/{id}                                                  -> 204 | 404
POST   /documents                     {"title", "content"?, "content_type"?, "tags"?,
                                       "embedding"?}                   -> 201 document
GET    /documents/search?q=...&limit=N   keyword search (BM25 in weaviate_primary)
POST   /documents/similar             {"vector", "limit"?}  nearest documents
GET    /status   mode and outbox     GET /healthz   GET /readyz   GET /metrics
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field, ValidationError

from chat_app.chat_store import ChatStore, NotFoundError

log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=BaseModel)
# Set on SIGTERM: /readyz fails so traffic moves to other pods while this one still serves.
DRAINING = web.AppKey("draining", asyncio.Event)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class NewConversation(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    user_id: str | None = Field(default=None, max_length=200)


class NewMessage(BaseModel):
    role: str
    content: str = Field(max_length=1_000_000)
    tokens: int | None = Field(default=None, ge=0, le=2**31)


class MessageEdit(BaseModel):
    content: str = Field(max_length=1_000_000)


class NewDocument(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    content: str | None = Field(default=None, max_length=5_000_000)
    content_type: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=100)
    embedding: list[float] | None = Field(default=None, min_length=1, max_length=4096)


class SimilarQuery(BaseModel):
    vector: list[float] = Field(min_length=1, max_length=4096)
    limit: int = Field(default=10, ge=1, le=100)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotFoundError as error:
        return _error(404, str(error))
    except ValueError as error:  # includes pydantic's ValidationError
        return _error(400, str(error))
    except sa.exc.OperationalError as error:
        log.error("database error: %s", error)
        return _error(503, "database unavailable")


@web.middleware
async def _close_when_draining(request: web.Request, handler: Handler) -> web.StreamResponse:
    """While shutting down, every response ends its connection (`Connection: close`), so
    clients open new ones to other pods instead of reusing one this pod is about to close: a
    request sent on a keep-alive connection as the server closes it would fail."""
    response = await handler(request)
    if request.app[DRAINING].is_set():
        response.force_close()
    return response


async def _body(request: web.Request, model: type[Model]) -> Model:
    try:
        raw = await request.json()
    except json.JSONDecodeError:
        raise ValueError("the body must be a JSON object") from None
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in e['loc']) or 'body'}: {e['msg']}"
            for e in error.errors(include_url=False, include_input=False)
        ]
        raise ValueError("; ".join(problems)) from None


def _limit(request: web.Request, default: int, most: int) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ValueError(f"limit must be an integer from 1 to {most}")
    return int(raw)


T = TypeVar("T")


async def _run(call: Callable[[], T]) -> T:
    return await asyncio.to_thread(call)


def build_app(store: ChatStore, registry: CollectorRegistry = REGISTRY) -> web.Application:
    routes = web.RouteTableDef()

    @routes.post("/conversations")
    async def create_conversation(request: web.Request) -> web.Response:
        body = await _body(request, NewConversation)
        row = await _run(lambda: store.create_conversation(body.title, body.user_id))
        return web.json_response(row, status=201, dumps=_dumps)

    @routes.get("/conversations/{id}")
    async def get_conversation(request: web.Request) -> web.Response:
        row = await _run(lambda: store.conversation(request.match_info["id"]))
        if row is None:
            return _error(404, f"conversation {request.match_info['id']} not found")
        return web.json_response(row, dumps=_dumps)

    @routes.delete("/conversations/{id}")
    async def delete_conversation(request: web.Request) -> web.Response:
        await _run(lambda: store.delete_conversation(request.match_info["id"]))
        return web.Response(status=204)

    @routes.get("/conversations/{id}/messages")
    async def list_messages(request: web.Request) -> web.Response:
        limit = _limit(request, 100, 10_000)
        rows = await _run(lambda: store.messages(request.match_info["id"], limit))
        return web.json_response(rows, dumps=_dumps)

    @routes.post("/conversations/{id}/messages")
    async def post_message(request: web.Request) -> web.Response:
        body = await _body(request, NewMessage)
        conversation = request.match_info["id"]
        row = await _run(
            lambda: store.post_message(conversation, body.role, body.content, body.tokens)
        )
        return web.json_response(row, status=201, dumps=_dumps)

    @routes.patch("/messages/{id}")
    async def edit_message(request: web.Request) -> web.Response:
        body = await _body(request, MessageEdit)
        row = await _run(lambda: store.edit_message(request.match_info["id"], body.content))
        return web.json_response(row, dumps=_dumps)

    @routes.delete("/messages/{id}")
    async def delete_message(request: web.Request) -> web.Response:
        await _run(lambda: store.delete_message(request.match_info["id"]))
        return web.Response(status=204)

    @routes.post("/documents")
    async def add_document(request: web.Request) -> web.Response:
        body = await _body(request, NewDocument)
        row = await _run(
            lambda: store.add_document(
                body.title,
                body.content,
                content_type=body.content_type,
                tags=body.tags,
                embedding=body.embedding,
            )
        )
        return web.json_response(row, status=201, dumps=_dumps)

    @routes.get("/documents/search")
    async def search_documents(request: web.Request) -> web.Response:
        query = request.query.get("q", "").strip()
        if not query:
            raise ValueError("q (the search words) is required")
        limit = _limit(request, 10, 100)
        rows = await _run(lambda: store.search_documents(query, limit))
        return web.json_response(rows, dumps=_dumps)

    @routes.post("/documents/similar")
    async def similar_documents(request: web.Request) -> web.Response:
        body = await _body(request, SimilarQuery)
        rows = await _run(lambda: store.similar_documents(body.vector, body.limit))
        return web.json_response(rows, dumps=_dumps)

    @routes.get("/status")
    async def status(_request: web.Request) -> web.Response:
        return web.json_response(await _run(store.outbox))

    @routes.get("/healthz")
    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    @routes.get("/readyz")
    async def readyz(request: web.Request) -> web.Response:
        if request.app[DRAINING].is_set():
            return _error(503, "shutting down")

        def check() -> None:
            with store.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))

        await _run(check)
        return web.Response(text="ready")

    @routes.get("/metrics")
    async def metrics(_request: web.Request) -> web.Response:
        await _run(store.outbox)  # refreshes the outbox gauges
        return web.Response(
            body=generate_latest(registry), content_type="text/plain", charset="utf-8"
        )

    app = web.Application(
        middlewares=[_close_when_draining, _errors], client_max_size=8 * 1024 * 1024
    )
    app[DRAINING] = asyncio.Event()
    app.add_routes(routes)
    return app


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)
