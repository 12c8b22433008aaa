"""The DataMigration API: pydantic models of the CRD, its names, phases, reasons and contracts.

Pure: imports neither kopf nor a Kubernetes client. `api.crd` generates crds/datamigration.yaml.
"""
