"""The cluster's credentials, generated into a data dir: a CA, the API server's serving
certificate, the ServiceAccount signing key and a static token file with one token per
identity (admin, controller manager, scheduler, kubelet).

Static tokens are the simplest credential the real API server accepts (`--token-auth-file`);
the controller manager and the scheduler get their well-known user names, which the RBAC
bootstrap policy already binds.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=365)
SERVICE_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)

# identity -> (user name, groups). The kubelet runs as a cluster admin: the API server runs
# without the Node authorizer (RBAC only), whose rules a real kubelet's identity needs.
IDENTITIES: dict[str, tuple[str, str]] = {
    "admin": ("sandbox-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", ""),
    "scheduler": ("system:kube-scheduler", ""),
    "kubelet": ("system:node:real-node", "system:nodes,system:masters"),
}


@dataclass(frozen=True)
class ClusterCredentials:
    directory: Path
    tokens: dict[str, str]

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def kubelet_cert(self) -> Path:
        return self.directory / "kubelet.crt"

    @property
    def kubelet_key(self) -> Path:
        return self.directory / "kubelet.key"

    @property
    def service_account_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def service_account_pub(self) -> Path:
        return self.directory / "sa.pub"

    @property
    def token_file(self) -> Path:
        return self.directory / "tokens.csv"

    @classmethod
    def generate(cls, directory: Path) -> ClusterCredentials:
        directory.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "datamigration-real-ca")])
        now = datetime.datetime.now(datetime.UTC)
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        credentials = cls(directory, {name: secrets.token_urlsafe(32) for name in IDENTITIES})
        _write(credentials.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
        _write(credentials.ca_key, _private_pem(ca_key), private=True)
        for cert_path, key_path, common_name in (
            (credentials.serving_cert, credentials.serving_key, "kube-apiserver"),
            (credentials.kubelet_cert, credentials.kubelet_key, "real-node"),
        ):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _serving_certificate(ca_cert, ca_key, key, common_name, now)
            _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
            _write(key_path, _private_pem(key), private=True)
        sa_key = ec.generate_private_key(ec.SECP256R1())
        _write(credentials.service_account_key, _private_pem(sa_key), private=True)
        _write(
            credentials.service_account_pub,
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )
        lines = [
            f'{credentials.tokens[name]},{user},{user}-uid,"{groups}"'
            if groups
            else f"{credentials.tokens[name]},{user},{user}-uid"
            for name, (user, groups) in IDENTITIES.items()
        ]
        _write(credentials.token_file, ("\n".join(lines) + "\n").encode(), private=True)
        return credentials


def _serving_certificate(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    common_name: str,
    now: datetime.datetime,
) -> x509.Certificate:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVICE_DNS_NAMES]
    names += [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
    ]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _write(path: Path, content: bytes, *, private: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
