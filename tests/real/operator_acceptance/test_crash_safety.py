"""The acceptance suite's crash safety (tests/integration/operator_acceptance/
test_crash_safety.py), the same tests, on the real servers: the operator is SIGKILLed by
ApiProxy after the API server answered its write and before the answer reaches it."""

from tests.integration.operator_acceptance.test_crash_safety import (
    test_killed_between_job_create_and_status_write_ends_with_one_job,
    test_killed_between_mode_patch_and_status_write_converges_once,
    test_killed_during_rollback_finishes_it_after_restart,
)

__all__ = [
    "test_killed_between_job_create_and_status_write_ends_with_one_job",
    "test_killed_between_mode_patch_and_status_write_converges_once",
    "test_killed_during_rollback_finishes_it_after_restart",
]
