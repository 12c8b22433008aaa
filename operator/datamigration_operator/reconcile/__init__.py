"""Pure reconciliation: the phase table, its gates and the planner (observed state -> actions).

Imports neither kopf nor a Kubernetes client; handlers observe, plan, then execute actions.
"""
