"""CRD `x-kubernetes-validations` rules: compiled once with cel-python, evaluated per node."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import celpy
import lark
from celpy import celtypes
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

REASONS = frozenset(
    {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}
)

_ENVIRONMENT = celpy.Environment()


def _string_function(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(target: Any, *args: Any) -> Any:
        result = method(str(target), *(str(a) for a in args))
        if isinstance(result, list):
            return celtypes.ListType([celtypes.StringType(s) for s in result])
        if isinstance(result, int):
            return celtypes.IntType(result)
        return celtypes.StringType(result)

    return call


def _join(target: Any, separator: Any = "") -> Any:
    return celtypes.StringType(str(separator).join(str(item) for item in target))


@dataclass(frozen=True)
class OptionalValue:
    """CEL optional: `oldSelf` of a rule with optionalOldSelf (none on CREATE)."""

    value: Any | None


def _has_value(optional: OptionalValue) -> Any:
    return celtypes.BoolType(optional.value is not None)


def _optional_value(optional: OptionalValue) -> Any:
    if optional.value is None:
        return CELEvalError("optional.none() dereference")
    return optional.value


def _or_value(optional: OptionalValue, fallback: Any) -> Any:
    return fallback if optional.value is None else optional.value


# A few functions of the Kubernetes CEL string library that cel-python lacks.
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lowerAscii": _string_function(str.lower),
    "upperAscii": _string_function(str.upper),
    "trim": _string_function(str.strip),
    "split": _string_function(str.split),
    "indexOf": _string_function(str.find),
    "replace": _string_function(str.replace),
    "join": _join,
    "hasValue": _has_value,
    "value": _optional_value,
    "orValue": _or_value,
}


class RuleCompileError(Exception):
    """A rule or messageExpression that does not compile; the CRD declaring it is invalid."""


@dataclass(frozen=True)
class CompiledRule:
    rule: str
    message: str | None
    message_expression: str | None
    field_path: str | None
    reason: str
    uses_old_self: bool
    # optionalOldSelf: the rule also runs on CREATE, with oldSelf an optional (none).
    optional_old_self: bool
    _program: celpy.Runner
    _message_program: celpy.Runner | None

    def evaluate(self, value: Any, old_value: Any | None) -> str | None:
        """None when the rule holds; otherwise the failure message the server would give.
        old_value is None when there is no old value at this path."""
        activation = {"self": value}
        if self.uses_old_self:
            activation["oldSelf"] = (
                OptionalValue(old_value) if self.optional_old_self else old_value
            )
        try:
            result = _run(self._program, activation)
        except CELEvalError as error:
            return f"{_describe(error)} evaluating rule: {self.rule}"
        if not isinstance(result, celtypes.BoolType | bool):
            return f"rule did not evaluate to a bool (got {type(result).__name__}): {self.rule}"
        if result:
            return None
        return self._failure_message(activation)

    def _failure_message(self, activation: dict[str, Any]) -> str:
        if self._message_program is not None:
            try:
                text = _run(self._message_program, activation)
            except CELEvalError:
                text = None
            # The server falls back to message / the rule when messageExpression fails or is "".
            if isinstance(text, str) and text.strip():
                return str(text)
        if self.message:
            return self.message
        return f"failed rule: {self.rule}"


def _run(program: celpy.Runner, activation: dict[str, Any]) -> Any:
    result = program.evaluate(activation)
    if isinstance(result, CELEvalError):
        raise result
    return result


def _describe(error: CELEvalError) -> str:
    return str(error.args[0]) if error.args else str(error)


def _compile(text: str) -> tuple[celpy.Runner, lark.Tree[Any]]:
    try:
        tree = _ENVIRONMENT.compile(text)
    except CELParseError as error:
        raise RuleCompileError(f"compilation failed: {error}") from None
    return _ENVIRONMENT.program(tree, functions=_FUNCTIONS), tree


def _references_old_self(tree: lark.Tree[Any]) -> bool:
    return any(
        isinstance(child, lark.Token) and child == "oldSelf"
        for node in tree.find_data("ident")
        for child in node.children
    )


def compile_rule(spec: Mapping[str, Any]) -> CompiledRule:
    """Compiles one entry of x-kubernetes-validations; RuleCompileError explains a bad one."""
    rule = spec.get("rule")
    if not isinstance(rule, str) or not rule.strip():
        raise RuleCompileError("rule: Required value: rule is not specified")
    reason = spec.get("reason") or "FieldValueInvalid"
    if reason not in REASONS:
        supported = ", ".join(f'"{r}"' for r in sorted(REASONS))
        raise RuleCompileError(
            f'reason: Unsupported value: "{reason}": supported values: {supported}'
        )
    program, tree = _compile(rule)
    message_expression = spec.get("messageExpression")
    message_program = None
    if message_expression:
        try:
            message_program, _ = _compile(str(message_expression))
        except RuleCompileError as error:
            raise RuleCompileError(f"messageExpression {error}") from None
    field_path = spec.get("fieldPath")
    if field_path is not None and not str(field_path).startswith((".", "[")):
        raise RuleCompileError(f'fieldPath: Invalid value: "{field_path}": must start with "."')
    return CompiledRule(
        rule=rule,
        message=spec.get("message"),
        message_expression=message_expression,
        field_path=field_path,
        reason=reason,
        uses_old_self=_references_old_self(tree),
        optional_old_self=bool(spec.get("optionalOldSelf")),
        _program=program,
        _message_program=message_program,
    )


def to_cel(value: Any, schema: Mapping[str, Any] | None) -> Any:
    """Converts a JSON value to CEL types the way the apiserver types it from the schema:
    `number` is always a double, date-time strings are timestamps, durations are durations."""
    schema = schema or {}
    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int | float):
        if schema.get("type") == "number" or (isinstance(value, float) and not value.is_integer()):
            return celtypes.DoubleType(float(value))
        return celtypes.IntType(int(value))
    if isinstance(value, str):
        return _typed_string(value, schema.get("format"))
    if isinstance(value, list):
        items = schema.get("items")
        return celtypes.ListType(
            [to_cel(v, items if isinstance(items, dict) else None) for v in value]
        )
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        return celtypes.MapType(
            {
                celtypes.StringType(k): to_cel(
                    v, properties.get(k) or (extra if isinstance(extra, dict) else None)
                )
                for k, v in value.items()
            }
        )
    raise TypeError(f"not a JSON value: {value!r}")


def _typed_string(value: str, string_format: Any) -> Any:
    try:
        if string_format == "date-time":
            return celtypes.TimestampType(value)
        if string_format == "duration":
            return celtypes.DurationType(value)
    except ValueError:
        pass  # an unparsable value stays a string; format validation reports it
    return celtypes.StringType(value)
