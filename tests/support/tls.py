"""Throw-away PKI for TLS tests: a private CA (like an LGWAN site's), an unrelated CA, a server certificate."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def private_ca_pems(tmp: Path) -> tuple[Path, Path, Path, Path]:
    """CA A (signs the server certificate for 127.0.0.1), an unrelated CA B, the server cert and key."""
    now = datetime.datetime.now(datetime.UTC)

    def cert(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: str,
        signer: ec.EllipticCurvePrivateKey,
        *,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    paths = []
    ca_key_a, ca_key_b, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca_a = cert("LGWAN 試験 CA A", ca_key_a, "LGWAN 試験 CA A", ca_key_a, ca=True)
    ca_b = cert("Other CA B", ca_key_b, "Other CA B", ca_key_b, ca=True)
    server = cert("127.0.0.1", server_key, "LGWAN 試験 CA A", ca_key_a, ca=False)
    for name, item in (("ca_a.pem", ca_a), ("ca_b.pem", ca_b), ("server.pem", server)):
        (tmp / name).write_bytes(item.public_bytes(serialization.Encoding.PEM))
        paths.append(tmp / name)
    key = tmp / "server.key"
    key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths[0], paths[1], paths[2], key
