"""Writes whose answer never came (the pod died mid-request) are in doubt: `verify` accepts
either outcome for them and still catches a lost acknowledged write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from chat_app.loadgen import AppState, LoadGenerator, LoadSettings, listing_problems


class CutOff:
    """A session whose every request goes out and meets a closed connection."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def _request(self, *_args: Any, **_kwargs: Any) -> Any:
        @asynccontextmanager
        async def answered() -> AsyncIterator[Any]:
            raise self.error
            yield  # pragma: no cover

        return answered()

    post = patch = delete = _request


def _state() -> AppState:
    state = AppState()
    state.conversations = {"c1", "c2"}
    state.messages = {"m1": ("c1", "hello"), "m2": ("c1", "bye"), "m3": ("c2", "hi")}
    return state


def _run(state: AppState, op: str, error: Exception) -> str | None:
    generator = LoadGenerator(LoadSettings(url="http://app"))
    generator.state = state
    session: Any = CutOff(error)
    try:
        result: str | None = asyncio.run(getattr(generator, f"_{op}")(session))
    except Exception as exc:  # the load loop records it as a failure
        return type(exc).__name__
    return result


def test_acknowledged_writes_must_all_be_there() -> None:
    state = _state()
    assert listing_problems(state, "c1", {"m1": "hello", "m2": "bye"}) == []
    assert listing_problems(state, "c1", {"m1": "hello"}) == [
        "message m2: expected 'bye', got None"
    ]
    assert listing_problems(state, "c1", {"m1": "hello", "m2": "bye", "m9": "x"}) == [
        "message m9: deleted, but still listed"
    ]


def test_a_delete_in_doubt_may_have_happened_or_not() -> None:
    state = _state()
    assert _run(state, "delete_message", aiohttp.ServerDisconnectedError()) == ("WriteInDoubtError")
    [(doubtful, (conversation, contents))] = state.deletes_in_doubt.items()
    assert doubtful not in state.messages  # no later write picks it
    kept = {m: c for m, (conv, c) in _state().messages.items() if conv == conversation}
    assert contents == {kept[doubtful]}
    gone = {m: c for m, c in kept.items() if m != doubtful}
    assert listing_problems(state, conversation, kept) == []
    assert listing_problems(state, conversation, gone) == []
    # it cannot come back with another content, and the acknowledged ones must still be there
    assert listing_problems(state, conversation, {**kept, doubtful: "other"}) == [
        f"message {doubtful}: delete in doubt, but content 'other'"
    ]
    assert listing_problems(state, conversation, {doubtful: kept[doubtful]}) == [
        f"message {message}: expected {content!r}, got None" for message, content in gone.items()
    ]


def test_an_edit_in_doubt_may_show_either_content() -> None:
    state = AppState(conversations={"c1"}, messages={"m1": ("c1", "hello")})
    assert _run(state, "edit_message", TimeoutError()) == "WriteInDoubtError"
    [edited] = state.edits_in_doubt["m1"]
    assert listing_problems(state, "c1", {"m1": "hello"}) == []
    assert listing_problems(state, "c1", {"m1": edited}) == []
    assert listing_problems(state, "c1", {"m1": "neither"}) == [
        "message m1: expected 'hello', got 'neither'"
    ]
    assert listing_problems(state, "c1", {}) == ["message m1: expected 'hello', got None"]


def test_a_post_in_doubt_may_be_listed_without_its_id() -> None:
    state = AppState(conversations={"c1"})
    assert _run(state, "post_message", aiohttp.ServerDisconnectedError()) == ("WriteInDoubtError")
    [content] = state.posts_in_doubt["c1"]
    assert listing_problems(state, "c1", {}) == []
    assert listing_problems(state, "c1", {"new": content}) == []
    assert listing_problems(state, "c1", {"new": "something else"}) == [
        "message new: deleted, but still listed"
    ]


def test_a_conversation_delete_in_doubt_leaves_it_whole_or_gone() -> None:
    state = AppState(conversations={"c1"}, messages={"m1": ("c1", "hello")})
    assert _run(state, "delete_conversation", aiohttp.ClientPayloadError()) == ("WriteInDoubtError")
    assert state.messages == {}
    assert state.conversation_deletes_in_doubt == {"c1": {"m1": {"hello"}}}
    assert listing_problems(state, "c1", {"m1": "hello"}) == []
    assert listing_problems(state, "c1", {}) == ["message m1: expected {'hello'}, got None"]


@pytest.mark.parametrize("op", ["post_message", "edit_message", "delete_message"])
def test_a_refused_connection_is_a_plain_failure_not_a_doubt(op: str) -> None:
    state = AppState(conversations={"c1"}, messages={"m1": ("c1", "hello")})
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("app", 80, False, True, None, None, None),
        OSError(111, "refused"),
    )
    assert _run(state, op, refused) == "ClientConnectorError"
    assert (state.edits_in_doubt, state.deletes_in_doubt, state.posts_in_doubt) == ({}, {}, {})
    assert state.messages == {"m1": ("c1", "hello")}
