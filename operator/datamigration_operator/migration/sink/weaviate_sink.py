"""The Weaviate side of a migration: connect, ensure collections, write batches that lose nothing.

Every per-object error of every batch is checked. Failed objects and whole-request failures
(UNAVAILABLE, timeouts) are retried with exponential backoff and full jitter; an object that
still fails after `max_attempts` is returned to the caller by key, never dropped silently.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import weaviate
from pydantic import ValidationError
from weaviate.auth import Auth
from weaviate.classes.config import DataType, Property, ReferenceProperty
from weaviate.classes.init import AdditionalConfig, Timeout
from weaviate.classes.query import Filter
from weaviate.collections.classes.data import DataObject
from weaviate.exceptions import (
    InsufficientPermissionsError,
    UnexpectedStatusCodeError,
    WeaviateBaseError,
    WeaviateConnectionError,
    WeaviateStartUpError,
)
from weaviate.proto.v1 import batch_pb2, health_weaviate_pb2

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.migration.mapping import (
    CollectionPlan,
    CollectionSchema,
    MigrationObject,
    collection_schema,
)
from datamigration_operator.migration.mapping.values import to_weaviate_payload, vector_to_floats
from datamigration_operator.migration.not_retryable import NotRetryableError
from datamigration_operator.migration.sink.grpc_objects import ObjectEncoder
from datamigration_operator.migration.sink.ownership import (
    check_claim,
    owner_description,
    owner_in,
)
from datamigration_operator.migration.sink.settings import SinkSettings as SinkSettings

# insert_many logs every failed object with its properties at ERROR; we report failures by key.
logging.getLogger("weaviate-client").setLevel(logging.CRITICAL)

MAX_ERROR_MESSAGE = 300
# The client's own quick retries of a failed request, before our backoff takes over.
CLIENT_RETRIES = 2


class SinkError(Exception):
    """Weaviate refused the request itself and retrying cannot help (auth, schema)."""


class WeaviateAuthError(SinkError):
    """Weaviate answered 401 or 403: the API key is wrong, missing or lacks a permission. The
    same key fails the same way on every retry, so the run fails at once."""


class SchemaConflictError(SinkError):
    """An existing collection has a property of another type than the mapping needs."""


class TransientSinkError(Exception):
    """Weaviate kept failing whole requests (UNAVAILABLE, timeouts) after every attempt."""


class WeaviateUnreachableError(ConnectionError):
    """No Weaviate answered at the endpoint (refused, timed out, not ready); names it."""


class EndpointUnreachableError(WeaviateUnreachableError):
    """The copy found nobody at the endpoint: it is the first run to reach it, so this is a
    wrong host or port (or a Weaviate that is down), which a new pod will not find either."""


class TargetResetError(Exception):
    """Collections of the run vanished from Weaviate (it restarted without its data, or someone
    deleted them) and were created again: whatever was written into them before is gone, so
    the run starts over from the beginning. Raised by the sink, caught by the copy."""

    def __init__(self, collections: Sequence[str]) -> None:
        self.collections = list(collections)
        super().__init__(f"collections {', '.join(self.collections)} vanished from Weaviate")


# How Weaviate refuses an object whose reference names an object it does not hold
# ("invalid cref: 'cref' Message:conversation_id: no object with id ... found").
DANGLING_REFERENCE = "no object with id"


@dataclass(frozen=True)
class FailedObject:
    table: str
    key: Hashable
    message: str


@dataclass
class WriteOutcome:
    written: int = 0
    failed: list[FailedObject] = field(default_factory=list)
    retried_objects: int = 0


def connect(target: JobTarget, api_key: str | None, *, timeout: float = 60.0) -> Any:
    """A weaviate-client v4 connection; the key comes from the environment, never a flag."""
    if target.ca_file is not None:
        # httpx (trust_env) and grpc read their trust roots from these variables.
        os.environ["SSL_CERT_FILE"] = target.ca_file
        os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = target.ca_file
    # The client's init checks would also ask PyPI for a newer release: a Job must not reach
    # out of the cluster, so readiness is checked here instead.
    url = f"{'https' if target.tls else 'http'}://{target.http.host}:{target.http.port}"
    endpoint = f"Weaviate at {url} (gRPC {target.grpc.host}:{target.grpc.port})"
    try:
        # with a key, the client checks it against GET /v1/meta here already
        client = _connect_to(target, api_key, timeout)
    except UnexpectedStatusCodeError as error:
        raise _refused(error, url, api_key) or error from None
    except (WeaviateConnectionError, WeaviateStartUpError) as error:
        raise WeaviateUnreachableError(f"{endpoint} unreachable: {root_cause(error)}") from None
    except ValidationError as error:  # the client's own check of the endpoint
        reasons = "; ".join(str(e.get("msg", "")) for e in error.errors())
        raise NotRetryableError(f"{endpoint} cannot be used: {reasons}") from None
    try:
        if not client.is_ready():
            raise WeaviateUnreachableError(f"{endpoint} is not ready (GET /v1/.well-known/ready)")
        _check_credentials(client, url, api_key)
        check_grpc(target, url)
    except BaseException:
        client.close()
        raise
    return client


GRPC_CHECK_SECONDS = 5.0


def check_grpc(target: JobTarget, url: str, *, timeout: float = GRPC_CHECK_SECONDS) -> None:
    """One gRPC health check with a short deadline before any row is read: the client opens
    its channel only at the first batch, where a wrong gRPC port would be retried for minutes
    ("gRPC 127.0.0.1:50051: connection refused" says it in seconds instead)."""
    address = f"{target.grpc.host}:{target.grpc.port}"
    if target.tls:
        roots = None
        if target.ca_file is not None:
            with open(target.ca_file, "rb") as file:
                roots = file.read()
        channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(roots))
    else:
        channel = grpc.insecure_channel(address)
    try:
        reply = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_weaviate_pb2.WeaviateHealthCheckRequest.SerializeToString,
            response_deserializer=health_weaviate_pb2.WeaviateHealthCheckResponse.FromString,
        )(health_weaviate_pb2.WeaviateHealthCheckRequest(), timeout=timeout)
    except grpc.RpcError as error:
        raise WeaviateUnreachableError(
            f"gRPC {address}: {_grpc_problem(error, timeout)} (Weaviate at {url} answered over "
            "HTTP; is this its gRPC port? --grpc-port, $DMCTL_GRPC_PORT or "
            "spec.target.grpc say which)"
        ) from None
    finally:
        channel.close()
    if reply.status != health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING:
        raise WeaviateUnreachableError(f"gRPC {address}: not serving (health check)")


def _grpc_problem(error: grpc.RpcError, timeout: float) -> str:
    """The gist of a failed call: grpc's details are a paragraph ending in the cause."""
    call: Any = error  # a failed unary call is also a grpc.Call
    code = call.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"no answer within {timeout:.0f} s"
    details = str(call.details() or code.name)
    for cause in ("Connection refused", "No route to host", "Name or service not known"):
        if cause.lower() in details.lower():
            return cause[0].lower() + cause[1:]
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return "answers, but not as Weaviate (no health service)"
    return details[:MAX_ERROR_MESSAGE]


def root_cause(error: BaseException) -> str:
    """The innermost cause of a connection failure ("Connection refused", "Name or service
    not known", a timeout), which the client's own message ("Connection to Weaviate failed.
    Details: .") leaves out."""
    seen: set[int] = set()
    cause: BaseException = error
    while id(cause) not in seen:
        seen.add(id(cause))
        inner = cause.__cause__ or cause.__context__
        if inner is None:
            break
        cause = inner
    text = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
    return str(text)


def _check_credentials(client: Any, url: str, api_key: str | None) -> None:
    """GET /v1/meta needs an authenticated caller and no permission beyond that (the readiness
    endpoint needs none): a wrong or missing key is told here, before any work, not as the
    first collection or batch that fails."""
    try:
        client.get_meta()
    except UnexpectedStatusCodeError as error:
        raise _refused(error, url, api_key) or error from None


def _refused(
    error: UnexpectedStatusCodeError, url: str, api_key: str | None
) -> WeaviateAuthError | None:
    if error.status_code not in (401, 403):
        return None
    detail = _server_message(error)
    return WeaviateAuthError(
        refused_key_message(error.status_code, detail, url, keyed=api_key is not None)
    )


def refused_key_message(
    status: int | str, detail: str, where: str | None = None, *, keyed: bool = True
) -> str:
    """The one line a refused key becomes: the Job's termination message and status.message."""
    origin = f" from {where}" if where else ""
    said = f": {detail}" if detail else ""
    if not keyed:
        return f"Weaviate refused a request without an API key (HTTP {status}{origin}{said})"
    return f"Weaviate refused the API key (HTTP {status}{origin}{said})"


def _server_message(error: UnexpectedStatusCodeError) -> str:
    body: Any = error.error
    if isinstance(body, dict):
        body = body.get("message") or (body.get("error") or [{}])[0].get("message")
    return str(body or "")[:MAX_ERROR_MESSAGE]


def _connect_to(target: JobTarget, api_key: str | None, timeout: float) -> Any:
    return weaviate.connect_to_custom(
        http_host=target.http.host,
        http_port=target.http.port,
        http_secure=target.tls,
        grpc_host=target.grpc.host,
        grpc_port=target.grpc.port,
        grpc_secure=target.tls,
        auth_credentials=Auth.api_key(api_key) if api_key else None,
        additional_config=AdditionalConfig(
            timeout=Timeout(init=10, query=timeout, insert=timeout),
            trust_env=target.ca_file is not None,
        ),
        skip_init_checks=True,
    )


def ensure_collections(client: Any, plans: Sequence[CollectionPlan], *, owner: str) -> list[str]:
    """Create missing collections (explicit schema, vectorizer none) or check existing ones;
    returns the names of those it created.

    `owner` is the id namespace of the run (ownership.py): a collection is created claimed by
    it, and one claimed by another owner raises CollectionOwnedByOtherError before anything is
    written. Every collection exists before any reference is added, since a reference needs its
    target. A property an existing collection lacks is added; one of another type raises
    SchemaConflictError naming the property and both types.
    """
    schemas = [collection_schema(plan) for plan in plans]
    created: list[str] = []
    for schema in schemas:
        if client.collections.exists(schema.name):
            continue
        try:
            client.collections.create_from_dict(
                {
                    "class": schema.name,
                    "description": owner_description(owner),
                    "vectorizer": schema.vectorizer,
                    "properties": [
                        {"name": p.name, "dataType": [p.data_type]} for p in schema.properties
                    ],
                }
            )
        except UnexpectedStatusCodeError as error:
            # created meanwhile by another writer (the copy Job and the app's drainer, say):
            # what it created is checked below like any existing collection
            if error.status_code != 422 or not client.collections.exists(schema.name):
                raise
        else:
            created.append(schema.name)
    for schema in schemas:
        config = client.collections.export_config(schema.name)
        _claim(client, schema.name, owner_in(config.description), owner)
    for schema in schemas:
        _reconcile(client, schema)
    return created


# What Weaviate says of an object whose collection does not exist (the batch path, the shard
# path; the sandbox says the former).
_MISSING_COLLECTION = re.compile(
    r"could not find class (?P<a>\w+) in schema"
    r"|class '?(?P<b>\w+)'? (?:not present|not found) in schema"
)


def missing_collection(message: str) -> str | None:
    """The collection a per-object error says does not exist, or None."""
    match = _MISSING_COLLECTION.search(message)
    return None if match is None else match.group("a") or match.group("b")


class CollectionKeeper:
    """Creates the run's collections again when they vanish mid-run (a Weaviate restarted
    without its data says `could not find class Message in schema` for every object), at most
    `limit` times per run: a target that keeps losing its schema fails the run instead of
    looping. Thread-safe: of several batches that see the loss, one recreates."""

    def __init__(
        self,
        client: Any,
        plans: Sequence[CollectionPlan],
        *,
        owner: str,
        limit: int = 3,
        log: logging.Logger | None = None,
    ) -> None:
        self._client = client
        self._plans = list(plans)
        self._owner = owner
        self.limit = limit
        self._log = log or logging.getLogger("datamigration.sink")
        self._lock = threading.Lock()
        self.recreations = 0
        self.recreated: list[str] = []

    def recreate(self, seen: int) -> list[str]:
        """Recreate what is missing; `seen` is `recreations` when the failing batch was sent.
        Returns the collections created (by this call, or by another batch's since `seen`);
        empty when nothing was missing after all or the limit is reached."""
        with self._lock:
            if self.recreations > seen:
                return list(self.recreated)
            if self.recreations >= self.limit:
                return []
            created = ensure_collections(self._client, self._plans, owner=self._owner)
            if not created:
                return []
            self.recreations += 1
            self.recreated = created
            if self.recreations == 1:  # once per run; the count goes to the result
                self._log.warning(
                    "collections %s vanished from Weaviate (restarted without its data?): "
                    "created them again; the copy starts over",
                    ", ".join(created),
                )
            return created


def _claim(client: Any, name: str, recorded: str | None, owner: str) -> None:
    collection = client.collections.get(name)
    has_objects = recorded is None and bool(collection.query.fetch_objects(limit=1).objects)
    if check_claim(name, recorded, owner, has_objects=has_objects):
        collection.config.update(description=owner_description(owner))


def _reconcile(client: Any, schema: CollectionSchema) -> None:
    config = client.collections.export_config(schema.name)
    existing = {prop.name: str(prop.data_type.value) for prop in config.properties}
    existing_refs = {ref.name: list(ref.target_collections) for ref in config.references}
    collection = client.collections.get(schema.name)
    for prop in schema.properties:
        found = existing.get(prop.name)
        if found is None and prop.name in existing_refs:
            found = "reference to " + ", ".join(existing_refs[prop.name])
        if found is None:
            collection.config.add_property(
                Property(name=prop.name, data_type=DataType(prop.data_type))
            )
        elif found != prop.data_type:
            raise SchemaConflictError(
                f"collection {schema.name} has property {prop.name} of type {found}, "
                f"the mapping needs {prop.data_type}"
            )
    for ref in schema.references:
        targets = existing_refs.get(ref.name)
        if targets is None and ref.name in existing:
            raise SchemaConflictError(
                f"collection {schema.name} has property {ref.name} of type {existing[ref.name]}, "
                f"the mapping needs a reference to {ref.target_collection}"
            )
        if targets is None:
            collection.config.add_reference(
                ReferenceProperty(name=ref.name, target_collection=ref.target_collection)
            )
        elif ref.target_collection not in targets:
            raise SchemaConflictError(
                f"collection {schema.name} has property {ref.name} of type reference to "
                f"{', '.join(targets)}, the mapping needs a reference to {ref.target_collection}"
            )


class RateLimiter:
    """A token bucket of objects per second shared by the writer threads (0 = unlimited)."""

    def __init__(
        self,
        per_second: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = float(per_second)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free = clock()

    def acquire(self, count: int) -> None:
        if self._rate <= 0:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next_free)
            self._next_free = start + count / self._rate
            wait = start - now
        if wait > 0:
            self._sleep(wait)


def backoff_delay(attempt: int, settings: SinkSettings, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(max_delay, base * 2**attempt)]."""
    return rng.uniform(0.0, min(settings.max_delay, settings.base_delay * 2**attempt))


def to_data_object(obj: MigrationObject) -> DataObject[Any, Any]:
    properties = {name: to_weaviate_payload(value) for name, value in obj.properties.items()}
    references = {name: list(uuids) for name, uuids in obj.references.items() if uuids}
    vector = vector_to_floats(obj.vector) if obj.vector is not None else None
    return DataObject(
        properties=properties, uuid=obj.uuid, vector=vector, references=references or None
    )


class WeaviateSink:
    """Writes one table's batches; thread-safe, so several batches may be in flight."""

    def __init__(
        self,
        client: Any,
        settings: SinkSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        keeper: CollectionKeeper | None = None,
    ) -> None:
        """`keeper`: recreate collections that vanish mid-run (TargetResetError); without
        one, their objects fail like any other."""
        self.client = client
        self.settings = settings
        self.keeper = keeper
        self._limiter = RateLimiter(settings.objects_per_second)
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._encoders: dict[str, ObjectEncoder] = {}

    def _delay(self, attempt: int) -> float:
        with self._rng_lock:
            return backoff_delay(attempt, self.settings, self._rng)

    def write(
        self, plan: CollectionPlan, objects: Sequence[MigrationObject], keys: Sequence[Hashable]
    ) -> WriteOutcome:
        """Upsert the objects; returns how many landed and which keys kept failing.

        Raises TransientSinkError when the last attempt still failed as a whole request (a
        retry of the run may succeed), WeaviateAuthError when Weaviate refuses the
        credentials, TargetResetError when the keeper recreated vanished collections.
        """
        if not objects:
            return WriteOutcome()
        frame = self._encoder(plan).encode_framed
        encoded = [frame(obj) for obj in objects]
        pending = list(range(len(objects)))
        messages: dict[int, str] = {}
        outcome = WriteOutcome()
        request_failed: TransientSinkError | None = None
        for attempt in range(self.settings.max_attempts):
            if attempt:
                self._sleep(self._delay(attempt))
                outcome.retried_objects += len(pending)
            self._limiter.acquire(len(pending))
            epoch = self.keeper.recreations if self.keeper is not None else 0
            try:
                errors = self._send([encoded[i] for i in pending])
            except TransientSinkError as error:
                request_failed = error
                continue
            request_failed = None
            if self.keeper is not None and any(map(missing_collection, errors.values())):
                recreated = self.keeper.recreate(epoch)
                if recreated:
                    raise TargetResetError(recreated)
            failed_positions = sorted(errors)
            failed_now = [pending[position] for position in failed_positions]
            for position, index in zip(failed_positions, failed_now, strict=True):
                messages[index] = errors[position]
            outcome.written += len(pending) - len(failed_now)
            pending = failed_now
            if not pending:
                return outcome
        if request_failed is not None:
            raise TransientSinkError(
                f"Weaviate kept failing requests for a batch of {len(objects)} objects into "
                f"{plan.collection} after {self.settings.max_attempts} attempts: {request_failed}"
            )
        outcome.failed = [
            FailedObject(plan.table, keys[index], messages[index][:MAX_ERROR_MESSAGE])
            for index in pending
        ]
        return outcome

    def _encoder(self, plan: CollectionPlan) -> ObjectEncoder:
        encoder = self._encoders.get(plan.collection)
        if encoder is None:
            encoder = self._encoders[plan.collection] = ObjectEncoder(plan)
        return encoder

    def _send(self, objects: list[bytes]) -> dict[int, str]:
        """Position -> error message of the objects Weaviate refused (`objects` as framed by
        ObjectEncoder.encode_framed; upb parses the request from their bytes).

        The messages are those insert_many would build; sent through the client's own
        connection (its auth headers, timeouts and UNAVAILABLE retries) without its
        per-property Python translation (see grpc_objects).
        """
        connection = self.client._connection
        request = batch_pb2.BatchObjectsRequest.FromString(b"".join(objects))
        if not self.settings.client_retries:
            return _send_once(connection, request)
        try:
            errors: dict[int, str] = connection.grpc_batch_objects(
                request=request,
                timeout=connection.timeout_config.insert,
                max_retries=CLIENT_RETRIES,
            )
        except InsufficientPermissionsError as error:
            raise WeaviateAuthError(_refused_batch(error.message)) from None
        except WeaviateBaseError as error:
            if "unauthenticated" in error.message.lower():
                raise WeaviateAuthError(_refused_batch(error.message)) from None
            raise TransientSinkError(error.message) from None
        return errors

    def delete(self, plan: CollectionPlan, uuids: Sequence[Any]) -> int:
        """Delete objects by id (sync removes extras); returns how many were deleted."""
        collection = self.client.collections.get(plan.collection)
        deleted = 0
        for start in range(0, len(uuids), self.settings.batch_size):
            chunk = list(uuids[start : start + self.settings.batch_size])
            result = collection.data.delete_many(where=Filter.by_id().contains_any(chunk))
            deleted += int(result.successful)
        return deleted


_REFUSED = (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)


def _send_once(connection: Any, request: batch_pb2.BatchObjectsRequest) -> dict[int, str]:
    """One BatchObjects call on the client's channel, with its auth headers and timeout."""
    try:
        reply = connection.grpc_stub.BatchObjects(
            request=request,
            metadata=connection.grpc_headers(),
            timeout=connection.timeout_config.insert,
        )
    except grpc.RpcError as error:
        code, details = error.code(), error.details()  # a failed call is also a grpc.Call
        if code in _REFUSED:
            raise WeaviateAuthError(_refused_batch(f"{code.name}: {details}")) from None
        raise TransientSinkError(f"{code.name}: {details}") from None
    return {e.index: e.error for e in reply.errors}


def _refused_batch(detail: str) -> str:
    return f"Weaviate refused the API key (gRPC BatchObjects: {detail})"
