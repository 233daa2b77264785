"""A throwaway certificate authority for the Kafka security tests: a CA, a broker certificate for 127.0.0.1
and a client certificate, as PEM files (``cryptography`` comes with PyGithub's JWT support)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate: what clients and the broker trust
    broker_keystore: Path  # broker key + certificate chain, one PEM file (Kafka's PEM keystore)
    client_cert: Path
    client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
                 issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False,
                 usage: x509.ObjectIdentifier | None = None, ips: tuple[str, ...] = (),
                 dns: tuple[str, ...] = ()) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if ips or dns:
        names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        names += [x509.DNSName(name) for name in dns]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("pillarstream test CA", ca_key, _name("pillarstream test CA"), ca_key, ca=True)
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = _certificate("kafka", broker_key, ca_cert.subject, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                               ips=("127.0.0.1",), dns=("localhost",))
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _certificate("pillarstream", client_key, ca_cert.subject, ca_key,
                               usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    pki = Pki(folder / "ca.pem", folder / "broker.pem", folder / "client.pem", folder / "client.key")
    pki.ca.write_bytes(_pem(ca_cert))
    pki.broker_keystore.write_bytes(_key_pem(broker_key) + _pem(broker_cert) + _pem(ca_cert))
    pki.client_cert.write_bytes(_pem(client_cert))
    pki.client_key.write_bytes(_key_pem(client_key))
    for path in (pki.broker_keystore, pki.client_key):
        path.chmod(0o600)
    return pki
