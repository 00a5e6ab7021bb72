"""The installation's Ed25519 signing key (deletion certificates, audit checkpoints).

Created on first use under ``data_dir/keys`` (0600, written to a temp file and renamed);
the public key is exportable so a third party can check what this installation signed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ocr_service.config import Settings

KEY_FILE = "signing-ed25519.pem"


def _key_path(settings: Settings) -> Path:
    return settings.data_dir / "keys" / KEY_FILE


def load_or_create_signing_key(settings: Settings) -> Ed25519PrivateKey:
    path = _key_path(settings)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            # link() fails if another process created the key meanwhile: theirs wins, ours is dropped.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def public_key_pem(settings: Settings) -> bytes:
    return (
        load_or_create_signing_key(settings)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def sign(settings: Settings, data: bytes) -> bytes:
    return load_or_create_signing_key(settings).sign(data)


def _public_key(public_pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(public_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verify_signature(public_pem: bytes, data: bytes, signature: bytes) -> bool:
    try:
        _public_key(public_pem).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def key_id(public_pem: bytes) -> str:
    raw = _public_key(public_pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
