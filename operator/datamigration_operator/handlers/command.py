"""The operator's entry point: its options and the process they start.

`python -m datamigration_operator.handlers` (what the Deployment runs) and `dmctl operator run`
(cli/operator.py) both call `run`.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import typer

from datamigration_operator.handlers.config import (
    ALLOWED_JOB_IMAGES_ENV,
    ALLOWED_JOB_SERVICE_ACCOUNTS_ENV,
    DEFAULT_JOB_IMAGE,
    JOB_IMAGE_ENV,
    OperatorConfig,
    split_list,
)

# The chart and the manifests name it explicitly (kopf's /healthz is on a port of its own).
DEFAULT_METRICS_PORT = 8080


def run(
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", help="Serve this namespace (repeatable)."),
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Serve every namespace (default).")
    ] = False,
    kubeconfig: Annotated[
        Path | None,
        typer.Option(
            help="Kubeconfig to use; default $KUBECONFIG, the in-cluster ServiceAccount, "
            "then ~/.kube/config."
        ),
    ] = None,
    liveness: Annotated[
        str | None, typer.Option(help="Liveness endpoint, e.g. http://0.0.0.0:8080/healthz.")
    ] = None,
    peering: Annotated[
        str | None,
        typer.Option(help="kopf peering name for HA replicas; default standalone (1 replica)."),
    ] = None,
    job_image: Annotated[
        str | None,
        typer.Option(help=f"Default Job image (env {JOB_IMAGE_ENV}; default {DEFAULT_JOB_IMAGE})."),
    ] = None,
    allowed_job_images: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-job-images",
            help="Images spec.jobTemplate.image may name besides the default Job image "
            f"(comma-separated or repeated; env {ALLOWED_JOB_IMAGES_ENV}). Default: none.",
        ),
    ] = None,
    allowed_job_service_accounts: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-job-service-accounts",
            help="ServiceAccounts spec.jobTemplate.serviceAccountName may name besides the one "
            "the operator creates per DataMigration (comma-separated or repeated; env "
            f"{ALLOWED_JOB_SERVICE_ACCOUNTS_ENV}). Default: none.",
        ),
    ] = None,
    metrics_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="Serve Prometheus metrics on http://0.0.0.0:PORT/metrics; 0: none.",
        ),
    ] = DEFAULT_METRICS_PORT,
    log_format: Annotated[
        Literal["json", "full", "plain"],
        typer.Option(help="Log lines as JSON objects, with time and level (full), or bare."),
    ] = "full",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Reconcile DataMigrations until interrupted."""
    from datamigration_operator.handlers.process import OperatorOptions, run_operator

    if namespace and all_namespaces:
        raise typer.BadParameter("use either --namespace or --all-namespaces")
    if metrics_port and liveness and urlsplit(liveness).port == metrics_port:
        raise typer.BadParameter(
            f"--liveness and --metrics-port both name port {metrics_port}; give them two ports "
            "(--metrics-port 0 serves no metrics)"
        )
    if kubeconfig is not None and not kubeconfig.is_file():
        raise typer.BadParameter(f"kubeconfig {kubeconfig} does not exist")
    image = job_image or os.environ.get(JOB_IMAGE_ENV) or DEFAULT_JOB_IMAGE
    config = OperatorConfig(
        job_image=image,
        kubeconfig=kubeconfig,
        allowed_job_images=split_list(allowed_job_images or os.environ.get(ALLOWED_JOB_IMAGES_ENV)),
        allowed_job_service_accounts=split_list(
            allowed_job_service_accounts or os.environ.get(ALLOWED_JOB_SERVICE_ACCOUNTS_ENV)
        ),
    )
    try:
        run_operator(
            OperatorOptions(
                config=config,
                namespaces=tuple(namespace or ()),
                liveness=liveness,
                peering=peering,
                verbose=verbose,
                metrics_port=metrics_port,
                log_format=log_format,
            )
        )
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        typer.echo(
            f"metrics port {metrics_port} is in use ({exc.strerror}); choose another with "
            "--metrics-port, or 0 to serve none",
            err=True,
        )
        raise typer.Exit(1) from exc
