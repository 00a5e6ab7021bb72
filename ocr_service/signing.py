"""The installation's Ed25519 signing key (audit checkpoints, deletion certificates).

One PEM file under ``settings.data_dir / "keys"``, created on first use with mode 0600
(written to a temp file and renamed, so two processes starting together never see half a key).
Whoever holds only the database cannot forge a signature: the key lives on the server's disk.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ocr_service.config import Settings

KEY_FILE = "installation-ed25519.pem"


def _key_path(settings: Settings) -> Path:
    return settings.data_dir / "keys" / KEY_FILE


def load_or_create_signing_key(settings: Settings) -> Ed25519PrivateKey:
    path = _key_path(settings)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        # link() fails if another process created the key meanwhile: theirs wins, ours is dropped.
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        finally:
            partial.unlink(missing_ok=True)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return loaded


def public_key_pem(settings: Settings) -> bytes:
    return (
        load_or_create_signing_key(settings)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def sign(settings: Settings, data: bytes) -> bytes:
    return load_or_create_signing_key(settings).sign(data)


def _public_key(public_pem: bytes) -> Ed25519PublicKey:
    loaded = serialization.load_pem_public_key(public_pem)
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return loaded


def verify_signature(public_pem: bytes, data: bytes, signature: bytes) -> bool:
    try:
        _public_key(public_pem).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def key_id(public_pem: bytes) -> str:
    raw = _public_key(public_pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
