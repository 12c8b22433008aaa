"""datamigration-operator: SQLite -> Weaviate migrations driven by a Kubernetes operator."""

# The one version source: the wheel's version (pyproject.toml reads it), `dmctl --version` and
# the default Job image tag; the chart's appVersion and the manifests' image tags are checked
# against it (tests/unit/packaging/test_version.py).
__version__ = "0.1.0"
