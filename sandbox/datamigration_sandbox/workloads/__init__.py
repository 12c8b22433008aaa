"""Workload controllers that run real pods in the sandbox: opted-in Deployments."""
