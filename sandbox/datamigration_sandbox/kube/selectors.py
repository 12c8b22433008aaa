"""Label and field selectors, parsed and matched like k8s.io/apimachinery labels and fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .status_errors import bad_request

# --- label selectors -----------------------------------------------------------------------

_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NAME_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)

EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"


def label_key_errors(key: str) -> list[str]:
    """Why key is not a valid label key (qualified name), or [] when it is."""
    prefix, _, name = key.rpartition("/")
    errors: list[str] = []
    if "/" in key and not prefix:
        errors.append("prefix part must be non-empty")
    elif prefix:
        if len(prefix) > 253:
            errors.append("prefix part must be no more than 253 characters")
        if not _DNS_SUBDOMAIN_RE.match(prefix):
            errors.append(
                "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                "alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character"
            )
    if not name:
        errors.append("name part must be non-empty")
    else:
        if len(name) > 63:
            errors.append("name part must be no more than 63 characters")
        if not _NAME_RE.match(name):
            errors.append(_NAME_MESSAGE)
    return errors


def label_value_errors(value: str) -> list[str]:
    """Why value is not a valid label value, or [] when it is."""
    errors: list[str] = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _VALUE_RE.match(value):
        errors.append(_VALUE_MESSAGE)
    return errors


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # one of the operator constants above
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator in (EQUALS, DOUBLE_EQUALS, IN):
            return present and labels[self.key] in self.values
        if self.operator in (NOT_EQUALS, NOT_IN):
            return not present or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return present
        if self.operator == DOES_NOT_EXIST:
            return not present
        if not present:
            return False
        try:
            actual = int(labels[self.key])
        except ValueError:
            return False
        bound = int(self.values[0])
        return actual > bound if self.operator == GREATER_THAN else actual < bound


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


_SPECIAL = ("!=", "==", "=", "!", "(", ")", ",", ">", "<")


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        symbol = next((s for s in _SPECIAL if text.startswith(s, i)), None)
        if symbol is not None:
            tokens.append(symbol)
            i += len(symbol)
            continue
        start = i
        while (
            i < len(text)
            and not text[i].isspace()
            and not any(text.startswith(s, i) for s in _SPECIAL)
        ):
            i += 1
        tokens.append(text[start:i])
    return tokens


def _is_identifier(token: str | None) -> bool:
    return token is not None and token not in _SPECIAL


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        self.position += 1
        return token

    def parse(self) -> LabelSelector:
        requirements: list[Requirement] = []
        while True:
            token = self.peek()
            if token is None:
                break
            if not (_is_identifier(token) or token == "!"):
                raise ValueError(f"found '{token}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self.requirement())
            except ValueError as error:
                raise ValueError(f"unable to parse requirement: {error}") from None
            following = self.take()
            if following is None:
                break
            if following != ",":
                raise ValueError(f"found '{following}', expected: ',' or 'end of string'")
            after = self.peek()
            if not (_is_identifier(after) or after == "!"):
                raise ValueError(f"found '{after or ''}', expected: identifier after ','")
        return LabelSelector(tuple(requirements))

    def requirement(self) -> Requirement:
        negated = self.peek() == "!"
        if negated:
            self.take()
        key = self.take()
        if not _is_identifier(key):
            raise ValueError(f"found '{key or ''}', expected: identifier")
        assert key is not None  # for mypy: _is_identifier(None) is False
        key_errors = label_key_errors(key)
        if key_errors:
            raise ValueError(f'key: Invalid value: "{key}": {"; ".join(key_errors)}')
        if negated:
            return Requirement(key, DOES_NOT_EXIST)
        if self.peek() in (None, ","):
            return Requirement(key, EXISTS)
        operator = self.take()
        if operator in (IN, NOT_IN):
            values = self.value_set()
        elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS, ">", "<"):
            values = (self.exact_value(),)
        else:
            raise ValueError(f"found '{operator}', expected: in, notin, =, ==, !=, gt, lt")
        if operator in (">", "<"):
            if not re.fullmatch(r"-?\d+", values[0]):
                raise ValueError(
                    f"for 'Gt', 'Lt' operators, the value must be an integer: {values[0]!r}"
                )
            operator = GREATER_THAN if operator == ">" else LESS_THAN
        for value in values:
            value_errors = label_value_errors(value)
            if value_errors:
                raise ValueError(f'values[0]: Invalid value: "{value}": {"; ".join(value_errors)}')
        return Requirement(key, operator, values)

    def exact_value(self) -> str:
        token = self.peek()
        if token in (None, ","):
            return ""  # `a=` selects the empty value
        if not _is_identifier(token):
            raise ValueError(f"found '{token}', expected: identifier")
        self.take()
        assert token is not None
        return token

    def value_set(self) -> tuple[str, ...]:
        opening = self.take()
        if opening != "(":
            raise ValueError(f"found '{opening or ''}', expected: '('")
        values: list[str] = []
        expect_value = True
        while True:
            token = self.take()
            if token == ")":
                if expect_value and values:
                    values.append("")  # `in (a,)` includes the empty value
                break
            if token is None:
                raise ValueError("found '', expected: ')'")
            if token == ",":
                if expect_value:
                    values.append("")
                expect_value = True
            elif _is_identifier(token) and expect_value:
                values.append(token)
                expect_value = False
            else:
                raise ValueError(f"found '{token}', expected: ',', ')' or identifier")
        if not values:
            values.append("")
        return tuple(values)


def parse_label_selector(text: str) -> LabelSelector:
    """Parses the `labelSelector` query syntax; a syntax error is a 400 like the server's."""
    try:
        return _LabelParser(text).parse()
    except ValueError as error:
        raise bad_request(str(error)) from None


def label_selector_from_spec(spec: Mapping[str, Any]) -> LabelSelector:
    """A metav1.LabelSelector (matchLabels, matchExpressions); an empty one selects everything."""
    requirements: list[Requirement] = []
    match_labels = spec.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise bad_request("selector.matchLabels must be a map of strings")
    for key, value in sorted(match_labels.items()):
        _check_label(str(key), [str(value)])
        requirements.append(Requirement(str(key), EQUALS, (str(value),)))
    operators = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    for expression in spec.get("matchExpressions") or []:
        if not isinstance(expression, Mapping):
            raise bad_request("selector.matchExpressions items must be objects")
        key = str(expression.get("key", ""))
        operator = operators.get(str(expression.get("operator")))
        if operator is None:
            raise bad_request(
                f'"{expression.get("operator")}" is not a valid label selector operator'
            )
        values = [str(v) for v in expression.get("values") or []]
        if operator in (IN, NOT_IN) and not values:
            raise bad_request(f"for 'in', 'notin' operators, values set can't be empty (key {key})")
        if operator in (EXISTS, DOES_NOT_EXIST) and values:
            raise bad_request(f"values set must be empty for exists and does not exist (key {key})")
        _check_label(key, values)
        requirements.append(Requirement(key, operator, tuple(values)))
    return LabelSelector(tuple(requirements))


def _check_label(key: str, values: list[str]) -> None:
    problems = label_key_errors(key)
    for value in values:
        problems.extend(label_value_errors(value))
    if problems:
        raise bad_request(f'invalid label selector requirement "{key}": {"; ".join(problems)}')


# --- field selectors -----------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    path: str  # dotted, e.g. "involvedObject.name"
    operator: str  # "=" or "!=" ("==" is normalised to "=")
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        equal = field_value(obj, self.path) == self.value
        return equal if self.operator == EQUALS else not equal


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The value at a dotted path as the field-selector string form; a missing field is ""."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return ""
        node = node[part]
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            if char in "=,":
                raise ValueError(f"invalid field selector: unescaped {char!r} in value {value!r}")
            out.append(char)
            continue
        escaped = next(chars, None)
        if escaped not in ("\\", ",", "="):
            raise ValueError("invalid field selector: invalid escape sequence")
        out.append(escaped)
    return "".join(out)


def _find_operator(term: str) -> tuple[int, str] | None:
    """Position of the first unescaped operator (!=, ==, =) in a term."""
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        for operator in ("!=", "==", "="):
            if term.startswith(operator, i):
                return i, operator
        i += 1
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """Parses `fieldSelector`: `path=value`, `path==value`, `path!=value`, comma = AND;
    `\\`, `\\,` and `\\=` escape a backslash, comma and equals sign in values."""
    requirements: list[FieldRequirement] = []
    try:
        for term in _split_unescaped(text, ","):
            if not term.strip():
                continue
            found = _find_operator(term)
            if found is None:
                raise ValueError(f"invalid selector: '{text}'; can't understand '{term}'")
            position, operator = found
            path = term[:position].strip()
            if not path:
                raise ValueError(f"invalid selector: '{text}'; can't understand '{term}'")
            value = _unescape(term[position + len(operator) :].strip())
            normalised = NOT_EQUALS if operator == NOT_EQUALS else EQUALS
            requirements.append(FieldRequirement(path, normalised, value))
    except ValueError as error:
        raise bad_request(str(error)) from None
    return FieldSelector(tuple(requirements))
