"""CEL rules (x-kubernetes-validations) the API server enforces at admission, so an illegal
`kubectl apply` fails at once with a message instead of being Blocked later by the operator."""

from __future__ import annotations

from typing import Any, Final

from datamigration_operator.api.phases import INITIAL_PHASE, NEXT_PHASES, PHASES, Phase

# Shown after "spec.phase cannot change from X to Y:".
_WHAT_COMES_NEXT: Final[dict[Phase, str]] = {
    "migrate": "after migrate comes dual-write (once the copy succeeded), or rollback",
    "dual-write": "after dual-write comes validate, or rollback",
    "validate": "after validate comes switch, dual-write (to re-sync), or rollback",
    "switch": "after switch you may go back to validate, or rollback",
    "rollback": "after rollback, start again with migrate or dual-write",
}


def _cel_list(phases: tuple[Phase, ...]) -> str:
    return "[" + ", ".join(f"'{p}'" for p in phases) + "]"


def phase_transition_rules() -> list[dict[str, Any]]:
    """Transition rules on spec.phase, one per current phase so each message is specific.
    Transition rules run only on update (oldSelf exists); "any -> rollback" and "any -> itself"
    are in every allowed list."""
    rules = []
    for old in PHASES:
        allowed = (old, *NEXT_PHASES[old])
        rules.append(
            {
                "rule": f"oldSelf != '{old}' || self in {_cel_list(allowed)}",
                "message": f"spec.phase cannot change from {old} to that phase: "
                f"{_WHAT_COMES_NEXT[old]}",
                "messageExpression": f"'spec.phase cannot change from {old} to ' + self + ': "
                f"{_WHAT_COMES_NEXT[old]}'",
            }
        )
    return rules


def create_rule() -> dict[str, Any]:
    """ "Create with migrate", on spec. A plain rule would also run on every update, and a
    transition rule is skipped on create, so this uses optionalOldSelf (Kubernetes >= 1.30,
    beta in 1.29 behind CRDValidationRatcheting): the API server then evaluates it on create
    with oldSelf = optional.none(). Servers that skip it still have the operator's gates."""
    return {
        "rule": f"oldSelf.hasValue() || self.phase == '{INITIAL_PHASE}'",
        "optionalOldSelf": True,
        "message": f"a new DataMigration must start with spec.phase: {INITIAL_PHASE}",
        "fieldPath": ".phase",
    }


_DISCOVERS_ALL: Final = (
    "(has(self.discover) && has(self.discover.tables) && self.discover.tables == 'all')"
)


def mapping_rules() -> list[dict[str, Any]]:
    """Cross-field rules on spec (the same as api.spec.mapping_problems checks in Python).
    Unique tables come from x-kubernetes-list-type: map on spec.collections (exact names;
    the operator also refuses two spellings SQLite takes for one table)."""
    return [
        {
            "rule": f"size(self.collections) > 0 || {_DISCOVERS_ALL}",
            "message": "list at least one table in spec.collections, or set discover.tables: all",
            "fieldPath": ".collections",
        },
        {
            "rule": "self.collections.all(a, self.collections.exists_one(b, "
            "b.collection == a.collection))",
            "message": "each Weaviate collection may appear only once in spec.collections",
            "fieldPath": ".collections",
        },
        {
            "rule": f"{_DISCOVERS_ALL} || self.collections.all(c, !has(c.references) || "
            "c.references.all(r, self.collections.exists(t, t.table == r.targetTable)))",
            "message": "every references[].targetTable must be a table listed in spec.collections "
            "(or discovered: discover.tables: all)",
            "fieldPath": ".collections",
        },
        {
            "rule": "self.collections.all(c, !has(c.vectorColumn) || "
            "c.vectorColumn != (has(c.idColumn) ? c.idColumn : 'id'))",
            "message": "vectorColumn must differ from idColumn",
            "fieldPath": ".collections",
        },
    ]


def switch_step_rules(max_steps: int) -> list[dict[str, Any]]:
    """On spec.switch (the same as api.spec.switch_step_problems): readPercent increases step
    by step and the last step is 100. CEL has no index loop: one comparison per pair."""
    climbs = " && ".join(
        f"(self.steps.size() <= {i} || "
        f"self.steps[{i - 1}].readPercent < self.steps[{i}].readPercent)"
        for i in range(1, max_steps)
    )
    return [
        {
            "rule": f"!has(self.steps) || ({climbs})",
            "message": "switch.steps readPercent must increase step by step",
            "fieldPath": ".steps",
        },
        {
            "rule": "!has(self.steps) || self.steps.size() == 0 || "
            "self.steps[self.steps.size() - 1].readPercent == 100",
            "message": "the last switch step must have readPercent 100",
            "fieldPath": ".steps",
        },
    ]


# Children's label values (migrations.gremlins.ai/datamigration: <name>) hold the name whole.
MAX_NAME: Final = 63
# Phases in which the app has not written to the target yet: the target may still change.
_TARGET_MAY_CHANGE: Final = (
    "oldSelf.phase == 'migrate' || (oldSelf.phase == 'rollback' && self.phase == 'migrate')"
)


def name_rule() -> dict[str, Any]:
    """On the root: a name the operator cannot use is refused at once, not accepted and then
    never reconciled (label values are at most 63 characters)."""
    return {
        "rule": f"self.metadata.name.size() <= {MAX_NAME}",
        "message": f"metadata.name must be at most {MAX_NAME} characters: the operator puts it "
        "in a label on every Job and ConfigMap it creates",
    }


def _discover_field(obj: str, field: str, default: str) -> str:
    """`obj.discover.field`, or its default where the object predates spec.discover."""
    return (
        f"(has({obj}.discover) && has({obj}.discover.{field}) ? {obj}.discover.{field} : "
        f"'{default}')"
    )


def identity_rule() -> dict[str, Any]:
    """On spec: what the migration reads and writes is fixed once the app may have written to
    the target (dual-write and after): a changed source or target would make validation compare
    two different things. It may change during migrate (the copy is re-run with spec.rerun) or
    together with the move from rollback back to migrate (a new copy)."""
    same = (
        "self.source == oldSelf.source && self.target == oldSelf.target && "
        "self.collections == oldSelf.collections && "
        + " && ".join(
            f"{_discover_field('self', field, default)} == "
            f"{_discover_field('oldSelf', field, default)}"
            for field, default in (("tables", "listed"), ("references", "listed"))
        )
    )
    why = (
        "spec.source, spec.target, spec.discover and spec.collections cannot change in phase "
        "{phase}: the app "
        "may have written to the target. Roll back, then change them together with phase: "
        "migrate (a new copy), or create a new DataMigration"
    )
    return {
        "rule": f"{_TARGET_MAY_CHANGE} || ({same})",
        "message": why.format(phase="dual-write, validate, switch or rollback"),
        "messageExpression": "'" + why.format(phase="' + oldSelf.phase + '") + "'",
    }


def recreate_rule() -> dict[str, Any]:
    """On spec (a transition rule: on update only; a new DataMigration starts in migrate):
    recreateOnRerun drops collections, so it is set or changed only in phase migrate; later
    the app writes to them and a drop would lose its writes."""
    return {
        "rule": "self.phase == 'migrate' || !has(self.recreateOnRerun) || "
        "(has(oldSelf.recreateOnRerun) && oldSelf.recreateOnRerun == self.recreateOnRerun)",
        "message": "spec.recreateOnRerun can be set or changed only in phase migrate: dropping "
        "the collections during dual-write or later would lose the app's writes",
        "fieldPath": ".recreateOnRerun",
    }
