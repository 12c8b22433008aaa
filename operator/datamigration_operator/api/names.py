"""Names fixed by the API contract: group, kind, labels and annotations on what we create."""

from __future__ import annotations

from typing import Final

GROUP: Final = "migrations.gremlins.ai"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "DataMigration"
PLURAL: Final = "datamigrations"
SINGULAR: Final = "datamigration"
SHORT_NAMES: Final = ("dm", "dmig")
CATEGORY: Final = "migrations"
CRD_NAME: Final = f"{PLURAL}.{GROUP}"

OPERATOR_NAME: Final = "datamigration-operator"

# Labels on everything the operator creates.
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_DATAMIGRATION: Final = f"{GROUP}/datamigration"
LABEL_PHASE: Final = f"{GROUP}/phase"
LABEL_JOB_KIND: Final = f"{GROUP}/job-kind"

# Annotations. Our own prefix keeps kopf state and bookkeeping out of kopf.zalando.org/*.
ANNOTATION_PREFIX: Final = GROUP
ANNOTATION_CONFIGMAP_OWNER: Final = f"{GROUP}/owner"
ANNOTATION_CONFIGMAP_PREVIOUS: Final = f"{GROUP}/previous-mode"
# The key's value before this migration claimed it ("" when absent): deletion restores it.
ANNOTATION_CONFIGMAP_ORIGINAL: Final = f"{GROUP}/original-mode"
ANNOTATION_WORKLOAD_MODE: Final = f"{GROUP}/migration-mode"
ANNOTATION_JOB_GENERATION: Final = f"{GROUP}/generation"
ANNOTATION_JOB_RERUN: Final = f"{GROUP}/rerun"

DEFAULT_CONFIGMAP_KEY: Final = "migration_mode"
# The second key the operator owns during a gradual switch: the percent of declared reads the
# app answers from Weaviate while the mode is dual_write (absent: none).
READ_PERCENT_KEY_SUFFIX: Final = "_read_percent"


def read_percent_key(mode_key: str) -> str:
    """`migration_mode` -> `migration_mode_read_percent`."""
    return mode_key + READ_PERCENT_KEY_SUFFIX


def owner_id(namespace: str, name: str) -> str:
    """How a DataMigration names itself in a ConfigMap's owner annotation."""
    return f"{namespace}/{name}"


def fold_sql_name(name: str) -> str:
    """A SQLite table or column name as SQLite compares them: ignoring the case of ASCII letters
    only (`Orders` and `ORDERS` are one table; `Ä` and `ä` are two, as in SQLite)."""
    return name.translate(_ASCII_LOWER)


_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
