"""Pure reconciliation: observed state -> actions. planner.plan runs the handler of spec.phase
(phases/<phase>.py: its mode, gate, Job and completion) over a Draft of the status, and keeps
what all phases share (conditions, Job records, Ready, history, events).

Imports neither kopf nor a Kubernetes client; handlers observe, plan, then execute actions.
"""
