"""The acceptance suite's bad inputs (tests/integration/operator_acceptance/test_bad_inputs.py),
the same cases and assertions, on the real servers."""

from tests.integration.operator_acceptance.test_bad_inputs import (
    healthy,
    test_bad_input_is_refused_and_changes_nothing,
)

__all__ = ["healthy", "test_bad_input_is_refused_and_changes_nothing"]
