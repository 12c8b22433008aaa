"""A kubeconfig that authenticates with an inline client certificate (`client-certificate-data`,
as kind and kubeadm write it) works for the operator's client and dmctl on the real API server,
as it does for kubectl; without the certificate the server refuses the same request."""

from __future__ import annotations

import asyncio
import base64
import datetime
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from datamigration_operator.kube.connection import load_connection
from datamigration_operator.kube.errors import KubeApiError
from datamigration_operator.kube.transport import HttpTransport
from tests.real.conftest import KUBECTL, RealCluster


def _client_certificate(cluster: RealCluster) -> tuple[bytes, bytes]:
    """A certificate for user `cert-user` in group system:masters, signed by the cluster's CA
    (the API server's --client-ca-file); (certificate PEM, key PEM)."""
    credentials = cluster.plane.credentials
    assert credentials is not None
    ca_cert = x509.load_pem_x509_certificate(credentials.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(credentials.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
            x509.NameAttribute(NameOID.COMMON_NAME, "cert-user"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _kubeconfig(path: Path, cluster: RealCluster, user: dict[str, str]) -> Path:
    credentials = cluster.plane.credentials
    assert credentials is not None
    b64 = base64.b64encode(credentials.ca_cert.read_bytes()).decode()
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "real",
                "cluster": {"server": cluster.plane.api_url, "certificate-authority-data": b64},
            }
        ],
        "users": [{"name": "cert-user", "user": user}],
        "contexts": [{"name": "real", "context": {"cluster": "real", "user": "cert-user"}}],
        "current-context": "real",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def certificate_kubeconfigs(
    real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """(a kubeconfig with the inline certificate, the same without any credential)."""
    cert_pem, key_pem = _client_certificate(real_cluster)
    folder = tmp_path_factory.mktemp("cert-kubeconfig")
    with_cert = _kubeconfig(
        folder / "with-cert",
        real_cluster,
        {
            "client-certificate-data": base64.b64encode(cert_pem).decode(),
            "client-key-data": base64.b64encode(key_pem).decode(),
        },
    )
    return with_cert, _kubeconfig(folder / "anonymous", real_cluster, {})


def _read_namespace(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("KUBECONFIG", raising=False)

    async def read() -> Any:
        transport = HttpTransport(load_connection(kopf.OperatorSettings(), kubeconfig))
        try:
            return await transport.request("GET", "/api/v1/namespaces/default")
        finally:
            await transport.close()

    return asyncio.run(read())


def test_kubectl_accepts_the_inline_certificate(certificate_kubeconfigs: tuple[Path, Path]) -> None:
    with_cert, _ = certificate_kubeconfigs
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(with_cert), "auth", "whoami", "-o", "jsonpath={.status}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "cert-user" in result.stdout
    assert "system:masters" in result.stdout


def test_the_operators_client_authenticates_with_the_inline_certificate(
    certificate_kubeconfigs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with_cert, anonymous = certificate_kubeconfigs
    assert _read_namespace(with_cert, monkeypatch)["metadata"]["name"] == "default"
    with pytest.raises(KubeApiError) as refused:
        _read_namespace(anonymous, monkeypatch)
    assert refused.value.code in (401, 403)


def _dmctl_list(kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    command = [sys.executable, "-m", "datamigration_operator.cli.main", "list", "-A"]
    return subprocess.run(
        [*command, "--kubeconfig", str(kubeconfig), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**env, "COLUMNS": "200"},
    )


def test_dmctl_lists_with_the_inline_certificate_and_says_why_without_it(
    certificate_kubeconfigs: tuple[Path, Path],
) -> None:
    with_cert, anonymous = certificate_kubeconfigs
    listed = _dmctl_list(with_cert)
    assert listed.returncode == 0, listed.stderr
    refused = _dmctl_list(anonymous)
    assert refused.returncode == 1
    output = refused.stdout + refused.stderr
    assert "Traceback" not in output
    assert "answered 403 Forbidden" in output
    assert 'User "system:anonymous" cannot list' in output
