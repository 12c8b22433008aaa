"""The one rule that turns SQLite names into Weaviate collection and property names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datamigration_operator.api.spec import COLLECTION_PATTERN, PROPERTY_PATTERN
from datamigration_operator.migration.mapping.naming import (
    NamingError,
    collection_name,
    property_name,
)


@pytest.mark.parametrize(
    ("table", "collection"),
    [
        ("Order Details", "OrderDetails"),
        ("order details", "OrderDetails"),
        ("chat_messages", "ChatMessages"),
        ("order-items", "OrderItems"),
        ("Message", "Message"),
        ("select", "Select"),
        ('quo"ted "name"', "QuoTedName"),
        ("Größe", "Grosse"),
        ("café crème", "CafeCreme"),
        ("Æble_øl", "AEbleOl"),
        ("2019 sales", "T2019Sales"),
        ("Заказы orders", "Orders"),  # letters with no Latin form are dropped
    ],
)
def test_collection_names(table: str, collection: str) -> None:
    assert collection_name(table) == collection


@pytest.mark.parametrize(
    ("column", "name"),
    [
        ("conversation_id", "conversation_id"),  # valid names keep theirs (older plans too)
        ("Title", "title"),  # Weaviate lower-cases the first letter itself
        ("unit price", "unitPrice"),
        ("Unit Price", "unitPrice"),
        ("e-mail", "eMail"),
        ('say "hi"', "sayHi"),
        ("Größe", "grosse"),
        ("2nd address", "_2ndAddress"),
        ("_private", "_private"),
    ],
)
def test_property_names(column: str, name: str) -> None:
    assert property_name(column) == name


@pytest.mark.parametrize("name", ["日本", "!!!", " ", '"'])
def test_a_name_with_nothing_to_derive_from_says_which_override_to_set(name: str) -> None:
    with pytest.raises(NamingError, match=re.escape(f'--table "{name}:Name"')):
        collection_name(name)
    with pytest.raises(NamingError, match="list it under properties with a name"):
        property_name(name, table="t")


@pytest.mark.parametrize("column", ["id", "ID", "_id", "_additional", "I-D"])
def test_reserved_property_names_are_refused(column: str) -> None:
    with pytest.raises(NamingError, match="which Weaviate reserves; list it under properties"):
        property_name(column, table="t")


@given(st.text(min_size=1, max_size=40))
def test_whatever_derives_is_a_name_weaviate_accepts(name: str) -> None:
    try:
        collection = collection_name(name)
    except NamingError:
        pass
    else:
        assert re.fullmatch(COLLECTION_PATTERN, collection)
    try:
        prop = property_name(name)
    except NamingError:
        pass
    else:
        assert re.fullmatch(PROPERTY_PATTERN, prop)
