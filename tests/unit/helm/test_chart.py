"""helm/datamigration-operator, rendered by Helm's engine (helm-python-sdk) for default and
non-default values: every object valid, least-privilege RBAC that matches the kustomize
manifests, both install modes, HA, the operator's real options, NOTES.txt's sample."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml
from prometheus_client import CollectorRegistry

import datamigration_operator
from datamigration_operator.api.crd import build_crd
from datamigration_operator.api.resource import DataMigration
from datamigration_operator.builders.job_access import job_role_rules
from datamigration_operator.dualwrite.metrics import OutboxMetrics
from datamigration_operator.handlers import command, config
from datamigration_operator.handlers.metrics import OperatorMetrics
from datamigration_operator.reconcile.actions import SetStatus
from datamigration_sandbox.kube.crd_schema import SchemaValidator
from tests.unit.helm.chart import (
    CHART,
    NAMESPACE,
    OPERATOR_SA,
    ROOT,
    VALUE_SETS,
    Doc,
    all_rules,
    container,
    documents,
    granted,
    helm_python_chart,
    of_kind,
    one,
    render,
    render_templates,
    rule_permissions,
    validate,
)

MANIFESTS = ROOT / "manifests"


def _manifest(path: str, kind: str) -> Doc:
    (doc,) = [d for d in documents((MANIFESTS / path).read_text()) if d["kind"] == kind]
    return doc


def _args(docs: list[Doc]) -> list[str]:
    args: list[str] = container(docs)["command"]
    assert args[:3] == ["python", "-m", "datamigration_operator.handlers"]
    return args[3:]


def _env(docs: list[Doc]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(docs)["env"]}


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Doc]]:
    name: str = request.param
    return name, render(VALUE_SETS[name])


# -- every value set ------------------------------------------------------------------------


def test_every_rendered_object_is_valid(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    assert docs
    for doc in docs:
        validate(doc)
    names = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), "two objects with one name"


def test_no_wildcards_and_no_privilege_escalation(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    for role, rule in all_rules(docs):
        where = f"{role['kind']} {role['metadata']['name']}: {rule}"
        for field in ("apiGroups", "resources", "verbs"):
            assert rule[field], where
            assert not [v for v in rule[field] if "*" in v], where
        assert not {"bind", "escalate", "impersonate"} & set(rule["verbs"]), where
        assert "nonResourceURLs" not in rule, where
        if "secrets" in rule["resources"]:
            assert rule["verbs"] == ["get"], f"secrets are read by name only: {where}"


def test_the_operator_account_is_the_deployments_and_is_bound(
    rendered: tuple[str, list[Doc]],
) -> None:
    name, docs = rendered
    account = VALUE_SETS[name].get("serviceAccount", {}).get("name") or OPERATOR_SA
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account
    assert bool(of_kind(docs, "ServiceAccount")) == (account == OPERATOR_SA)
    assert granted(docs, account), "no binding names the operator's ServiceAccount"


def test_the_deployment_is_hardened_and_probed(rendered: tuple[str, list[Doc]]) -> None:
    _, docs = rendered
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    operator = container(docs)
    security = operator["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(operator["resources"]) == {"requests", "limits"}
    ports = {p["name"]: p["containerPort"] for p in operator["ports"]}
    (liveness,) = [a for a in _args(docs) if a.startswith("--liveness=")]
    for probe in ("livenessProbe", "readinessProbe"):
        http = operator[probe]["httpGet"]
        assert liveness == f"--liveness=http://0.0.0.0:{ports[http['port']]}{http['path']}"


def test_the_operator_accepts_the_command_line_the_chart_gives_it(
    rendered: tuple[str, list[Doc]],
) -> None:
    """Parsed by the operator's own entry point (handlers.command.run), so an option the
    operator lacks or a misspelt one fails here, not in a crash-looping pod."""
    _, docs = rendered
    entry = typer.main.get_command(_typer_app())
    context = entry.make_context("datamigration_operator.handlers", list(_args(docs)))
    params = context.params
    expected = _values_of(rendered)["watchNamespaces"]
    assert tuple(params["namespace"] or ()) == tuple(expected)
    assert params["all_namespaces"] is (not expected)
    replicas = one(docs, "Deployment")["spec"]["replicas"]
    assert (params["peering"] is not None) is (replicas > 1)
    values = _values_of(rendered)
    assert params["log_format"] == values["logFormat"]
    ports = {p["name"]: p["containerPort"] for p in container(docs)["ports"]}
    if values["metrics"]["enabled"]:
        assert params["metrics_port"] == ports["metrics"] == values["metrics"]["port"]
        assert params["metrics_port"] != ports["health"]
    else:
        assert params["metrics_port"] == 0
        assert "metrics" not in ports


def _typer_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(command.run)
    return app


def _values_of(rendered: tuple[str, list[Doc]]) -> dict[str, Any]:
    defaults: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return _merged(defaults, VALUE_SETS[rendered[0]])


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of values: maps merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        before = merged.get(key)
        both_maps = isinstance(value, dict) and isinstance(before, dict)
        merged[key] = _merged(before, value) if both_maps else value  # type: ignore[arg-type]
    return merged


# -- RBAC against the kustomize manifests and the code ---------------------------------------


def test_cluster_wide_rbac_is_the_kustomize_cluster_role() -> None:
    kustomize = rule_permissions(_manifest("base/operator-rbac.yaml", "ClusterRole")["rules"], "*")
    chart = granted(render({}))
    assert chart == kustomize
    # with the opt-in, the kustomize role (which tests/unit/kube/test_manifests.py derives
    # from the requests the operator makes) plus reading Secrets by name
    opted_in = granted(render({"rbac": {"secretReadClusterWide": True}}))
    assert opted_in == kustomize | {("*", "", "secrets", "get")}


def test_cluster_wide_install_cannot_read_secrets_unless_told_where() -> None:
    def secrets(values: dict[str, Any]) -> set[tuple[str, str]]:
        return {
            (scope, verb) for scope, _, res, verb in granted(render(values)) if res == "secrets"
        }

    assert secrets({}) == set()
    assert secrets({"rbac": {"secretReadNamespaces": ["shop", "blog"]}}) == {
        ("shop", "get"),
        ("blog", "get"),
    }
    assert secrets({"rbac": {"secretReadClusterWide": True}}) == {("*", "get")}
    notes = render_templates({})["datamigration-operator/templates/NOTES.txt"]
    assert "allowed in NO namespace yet" in notes


def test_namespaced_install_grants_only_in_the_watched_namespaces() -> None:
    docs = render(VALUE_SETS["namespaced"])
    permissions = granted(docs)
    cluster_wide = {(g, r, v) for scope, g, r, v in permissions if scope == "*"}
    # cluster-wide, only the reads kopf needs to discover the CRD and the namespaces
    assert cluster_wide == {
        (g, r, v)
        for g, r in (("apiextensions.k8s.io", "customresourcedefinitions"), ("", "namespaces"))
        for v in ("get", "list", "watch")
    }
    kustomize = rule_permissions(_manifest("base/operator-rbac.yaml", "ClusterRole")["rules"], "*")
    namespaced_kinds = {(g, r, v) for _, g, r, v in kustomize} - cluster_wide
    for namespace in ("shop", "blog"):
        here = {(g, r, v) for scope, g, r, v in permissions if scope == namespace}
        # a namespaced install may check the Secrets its DataMigrations name (by name)
        assert here == namespaced_kinds | {("", "secrets", "get")}, namespace
        # RBAC escalation prevention: the operator holds what it grants each migration's Jobs
        assert rule_permissions(job_role_rules("any"), namespace) <= permissions
    assert {scope for scope, *_ in permissions} == {"*", "shop", "blog"}
    for binding in of_kind(docs, "RoleBinding"):
        assert binding["subjects"][0]["namespace"] == NAMESPACE  # no hand edits


def test_a_namespaced_install_refuses_cluster_wide_secret_settings() -> None:
    with pytest.raises(Exception, match="namespaced install"):
        render({"watchNamespaces": ["shop"], "rbac": {"secretReadClusterWide": True}})


# -- HA ---------------------------------------------------------------------------------------


def test_standalone_is_one_replica_recreated_without_peering() -> None:
    docs = render({})
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not [a for a in _args(docs) if a.startswith("--peering")]
    assert not of_kind(docs, "ClusterKopfPeering") + of_kind(docs, "PodDisruptionBudget")


def test_ha_cluster_wide_peers_through_a_cluster_peering_it_may_patch() -> None:
    docs = render(VALUE_SETS["ha"])
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    peering = one(docs, "ClusterKopfPeering")["metadata"]["name"]
    assert f"--peering={peering}" in _args(docs)
    assert ("*", "kopf.dev", "clusterkopfpeerings", "patch") in granted(docs)
    # the same rules as the kustomize HA overlay
    ha = _manifest("ha/peering.yaml", "ClusterRole")
    assert rule_permissions(ha["rules"], "*") <= granted(docs)
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_ha_namespaced_peers_in_each_watched_namespace() -> None:
    docs = render(VALUE_SETS["ha-namespaced"])
    (peering,) = of_kind(docs, "KopfPeering")
    assert peering["metadata"]["namespace"] == "shop"
    assert f"--peering={peering['metadata']['name']}" in _args(docs)
    assert ("shop", "kopf.dev", "kopfpeerings", "patch") in granted(docs)
    assert not [p for p in granted(docs) if p[2] == "clusterkopfpeerings"]


def test_the_chart_ships_the_kustomize_peering_crd() -> None:
    kustomize = _manifest("ha/peering.yaml", "CustomResourceDefinition")
    shipped = {
        d["metadata"]["name"]: d for d in documents((CHART / "crds/kopf-peerings.yaml").read_text())
    }
    assert shipped[kustomize["metadata"]["name"]] == kustomize
    assert shipped["kopfpeerings.kopf.dev"]["spec"]["scope"] == "Namespaced"


# -- values -----------------------------------------------------------------------------------


def test_job_settings_reach_the_operator_as_its_environment() -> None:
    docs = render(VALUE_SETS["custom"])
    env = _env(docs)
    image = f"registry.example/dmo@sha256:{'ab' * 32}"
    assert container(docs)["image"] == image
    assert env[config.JOB_IMAGE_ENV] == "registry.example/dmo-jobs:1"
    assert config.split_list(env[config.ALLOWED_JOB_IMAGES_ENV]) == (
        "registry.example/dmo-jobs:2",
        "registry.example/dmo-jobs:3",
    )
    assert config.split_list(env[config.ALLOWED_JOB_SERVICE_ACCOUNTS_ENV]) == ("migration-runner",)
    assert config.resync_seconds(env) == 30
    assert "--verbose" in _args(docs)
    # by default the Jobs run the operator's own image and nothing else is allowed
    defaults = render({})
    env = _env(defaults)
    assert env[config.JOB_IMAGE_ENV] == container(defaults)["image"]
    assert container(defaults)["image"].endswith(":" + _chart()["appVersion"])
    assert config.split_list(env[config.ALLOWED_JOB_IMAGES_ENV]) == ()
    assert config.resync_seconds(env) == config.resync_seconds({})


def test_values_yaml_satisfies_its_schema_and_the_schema_refuses_mistakes() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load((CHART / "values.yaml").read_text()), schema)
    for bad in (
        {"replicaCount": 0},
        {"watchNamespace": ["shop"]},  # typo
        {"watchNamespaces": ["Shop_1"]},
        {"rbac": {"secretReadNamespaces": "shop"}},
        {"resyncSeconds": 0.1},
    ):
        with pytest.raises(Exception, match="values don't meet the specifications"):
            render(bad)


def test_a_service_monitor_needs_the_metrics_service() -> None:
    with pytest.raises(Exception, match=re.escape("needs metrics.enabled")):
        render({"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}})
    docs = render(VALUE_SETS["monitoring"])
    service = one(docs, "Service")
    monitor = one(docs, "ServiceMonitor")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert service["spec"]["selector"] == one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    ports = {p["name"] for p in container(docs)["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    assert all(e["honorLabels"] for e in monitor["spec"]["endpoints"])
    # metrics are served by default; the ServiceMonitor (it needs the CRDs) is opt-in
    assert one(render({}), "Service")["spec"]["ports"][0]["targetPort"] == "metrics"
    assert not of_kind(render({}), "ServiceMonitor")
    assert not of_kind(render({"metrics": {"enabled": False}}), "Service")


def test_metrics_and_health_need_two_ports() -> None:
    with pytest.raises(Exception, match=re.escape("metrics.port and health.port must differ")):
        render({"metrics": {"port": 8080}, "health": {"port": 8080}})


def _exported_series() -> set[str]:
    """Every sample name the operator (handlers/metrics.py) and the dual-write library
    (dualwrite/metrics.py) export, each label set filled once so every series appears."""
    registry = CollectorRegistry()
    OutboxMetrics.for_registry(registry)
    metrics = OperatorMetrics(registry)
    metrics.status_seen("ns", "dm", _full_status())
    metrics.reconciled("ns", "dm", {}, [SetStatus(_full_status())])
    metrics.reconcile_failed("ns", "dm")
    metrics.reconcile_duration.observe(0.1)
    return {s.name for metric in registry.collect() for s in metric.samples}


def _full_status() -> dict[str, Any]:
    at = "2025-01-01T00:00:00Z"
    return {
        "phase": "migrate",
        "state": "Running",
        "history": [{"phase": "migrate", "at": at, "result": "Running", "message": ""}],
        "jobs": [{"phase": "migrate", "name": "dm-migrate-1", "state": "Succeeded"}],
        "progress": {
            "percent": 1,
            "rowsDone": 1,
            "rowsTotal": 2,
            "rowsPerSecond": 1.0,
            "failed": 0,
            "updatedAt": at,
        },
        "validation": {"finishedAt": at, "missing": 0},
    }


def _series_named(expressions: list[str]) -> set[str]:
    # a series name is followed by `{`, `[`, `)`, `,`, whitespace or the end, never by `(`
    return {n for e in expressions for n in re.findall(r"\b(datamigration_\w+)\b(?!\s*\()", e)}


def test_alerts_name_only_series_the_operator_and_the_dual_write_library_export() -> None:
    exported = _exported_series()
    rule = one(render(VALUE_SETS["monitoring"]), "PrometheusRule")
    groups = {g["name"]: [r["expr"] for r in g["rules"]] for g in rule["spec"]["groups"]}
    named = _series_named([e for exprs in groups.values() for e in exprs])
    assert {"datamigration_state", "datamigration_dualwrite_outbox_oldest_age_seconds"} <= named
    assert named <= exported, named - exported
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {
        "DataMigrationBlocked",
        "DataMigrationFailed",
        "DataMigrationJobStalled",
        "DataMigrationOutboxNotDraining",
    } <= alerts
    # without the operator's metrics, only the app's outbox alerts are rendered
    bare = one(
        render({"metrics": {"enabled": False}, "prometheusRule": {"enabled": True}}),
        "PrometheusRule",
    )
    assert [g["name"] for g in bare["spec"]["groups"]] == ["datamigration-dualwrite"]


def _dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    queries: list[str] = []
    for panel in dashboard["panels"]:
        queries += [t["expr"] for t in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["definition"])
    queries += [a["expr"] for a in dashboard["annotations"]["list"] if "expr" in a]
    return queries


def test_the_dashboard_queries_only_series_that_exist() -> None:
    exported = _exported_series()
    dashboard = json.loads((CHART / "dashboards" / "datamigration-operator.json").read_text())
    queries = _dashboard_queries(dashboard)
    named = _series_named(queries)
    assert named <= exported, named - exported
    # every operator series is shown somewhere (the _created samples are client bookkeeping)
    operator = {
        n
        for n in exported
        if not n.startswith("datamigration_dualwrite_")
        and not n.endswith(("_created", "_sum"))
        and n != "datamigration_reconcile_duration_seconds_count"
    }
    assert operator - named <= {"datamigration_reconcile_duration_seconds_count"}, operator - named
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_dashboard_configmap_carries_the_dashboard_file() -> None:
    docs = render(VALUE_SETS["monitoring"])
    (config_map,) = [
        d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")
    ]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads(config_map["data"]["datamigration-operator.json"])
    assert shipped == json.loads((CHART / "dashboards" / "datamigration-operator.json").read_text())


# -- chart metadata, CRDs, NOTES --------------------------------------------------------------


def _chart() -> dict[str, Any]:
    chart: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return chart


def test_app_version_is_the_packages_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    version = project.get("version") or datamigration_operator.__version__
    assert _chart()["appVersion"] == version == datamigration_operator.__version__


def test_crds_are_valid_and_the_datamigration_crd_is_the_generated_one() -> None:
    crds = {
        d["metadata"]["name"]: d
        for path in (CHART / "crds").glob("*.yaml")
        for d in documents(path.read_text())
    }
    assert crds["datamigrations.migrations.gremlins.ai"] == build_crd()
    for crd in crds.values():
        validate(crd)


def test_lint_finds_no_error() -> None:
    import helm_python

    helm_python_chart()
    report = helm_python.lint(str(CHART))
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1] == []


def test_notes_sample_is_a_valid_datamigration() -> None:
    notes = render_templates(VALUE_SETS["namespaced"])["datamigration-operator/templates/NOTES.txt"]
    match = re.search(r"# --- sample DataMigration ---\n(.*?)# --- end ---", notes, re.DOTALL)
    assert match, notes
    sample = yaml.safe_load(match[1])
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    validator = SchemaValidator(schema)
    defaulted = validator.apply_defaults(sample)
    assert validator.validate(defaulted, None) == []
    assert DataMigration.from_object(defaulted).spec.phase == "migrate"
    assert "serving only: shop, blog" in notes
    assert f"rollout status deployment/{OPERATOR_SA}" in notes


def test_chart_files_are_what_helm_packages() -> None:
    """No stray file (a .orig, a cache) in the chart; every template renders in some value set."""
    templates = {p.name for p in (CHART / "templates").iterdir()}
    rendered_somewhere = {
        Path(path).name
        for values in VALUE_SETS.values()
        for path, text in render_templates(values).items()
        if text.strip()
    }
    assert templates - {"_helpers.tpl"} <= rendered_somewhere
