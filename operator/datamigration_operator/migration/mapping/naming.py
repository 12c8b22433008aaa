"""Weaviate names derived from SQLite names (pure): the one rule for collections and properties.

SQLite accepts any name (spaces, dashes, quotes, unicode, keywords); Weaviate accepts
collections matching `[A-Z][_0-9A-Za-z]*` and properties matching `[_A-Za-z][_0-9A-Za-z]*`.
The rule:

1. A collection is the table name in CamelCase: its words joined, each starting upper-case
   (`chat_messages` -> `ChatMessages`, `Order Details` -> `OrderDetails`, `order-items` ->
   `OrderItems`, `Message` -> `Message`).
2. A property is the column name as it is when Weaviate accepts it (`conversation_id`), its
   first letter lower-cased as Weaviate does itself; otherwise its words in camel case
   (`unit price` -> `unitPrice`, `Unit Price` -> `unitPrice`). Names that worked before keep
   their Weaviate names.
   Words: letters with accents lose them (`Größe` -> `Grosse`, `café` -> `cafe`); letters with
   no Latin form (`日本`, `Имя`) and every other character (space, `_`, `-`, quotes) separate
   words and are dropped.
3. A name that starts with a digit gets a prefix: `T` for a collection, `_` for a property.
4. A name that derives to nothing, or to a name Weaviate reserves (`id`, `_id`,
   `_additional`), is refused with NamingError saying which override to set: `collection` of
   the mapping (`--table "TABLE:Collection"`), or `name` of a property.

Two tables or two columns that derive the same name are refused where the names meet
(mapping_problems and the derivation), naming both.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from datamigration_operator.migration.mapping.model import MappingError

COLLECTION_NAME: Final = re.compile(r"[A-Z][_0-9A-Za-z]*")
PROPERTY_NAME: Final = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
RESERVED_PROPERTY_NAMES: Final = frozenset({"id", "_id", "_additional"})
COLLECTION_DIGIT_PREFIX: Final = "T"
PROPERTY_DIGIT_PREFIX: Final = "_"

# Latin letters NFKD does not decompose into a base letter and a mark.
_LATIN: Final = str.maketrans(
    {
        "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
        "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th",
        "\u0131": "i", "ħ": "h", "Ħ": "H",
    }
)  # fmt: skip
_WORDS: Final = re.compile(r"[A-Za-z0-9]+")


class NamingError(MappingError):
    """A SQLite name has no Weaviate name by the rule; the message says which override to set."""


def ascii_words(name: str) -> list[str]:
    """The ASCII words of `name` after dropping accents (rule 2)."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_LATIN))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORDS.findall(plain)


def _camel(words: list[str]) -> str:
    return "".join(w[:1].upper() + w[1:] for w in words)


def collection_name(table: str) -> str:
    """The Weaviate collection a table maps to unless the mapping names one."""
    name = _camel(ascii_words(table))
    if not name:
        raise NamingError(
            f"table {table!r} has no letters or digits to derive a Weaviate collection name "
            f'from; name the collection: --table "{table}:Name" or collection: in the mapping'
        )
    return COLLECTION_DIGIT_PREFIX + name if name[0].isdigit() else name


def property_name(column: str, *, table: str = "") -> str:
    """The Weaviate property a column maps to unless the mapping names one."""
    where = f"column {table}.{column}" if table else f"column {column!r}"
    if PROPERTY_NAME.fullmatch(column):
        name = column
    else:
        camel = _camel(ascii_words(column))
        if not camel:
            raise NamingError(
                f"{where} has no letters or digits to derive a Weaviate property name from; "
                "list it under properties with a name (or leave it out of properties)"
            )
        name = PROPERTY_DIGIT_PREFIX + camel if camel[0].isdigit() else camel
    name = name[:1].lower() + name[1:]  # Weaviate lower-cases it and reports it back so
    if name.casefold() in RESERVED_PROPERTY_NAMES:
        raise NamingError(
            f"{where} derives the property name {name}, which Weaviate reserves; "
            "list it under properties with another name"
        )
    return name
