"""datamigration-operator: SQLite -> Weaviate migrations driven by a Kubernetes operator."""

__version__ = "0.1.0"
