"""TOTP (RFC 6238, pyotp) and one-time recovery codes. The QR code is drawn here (segno, SVG):
no secret ever leaves the server for an external QR service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import secrets
import time

import pyotp
import segno
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ISSUER = "AI-OCR"
RECOVERY_CODE_COUNT = 10
_STEP_S = 30


def _key(secret_key: str) -> bytes:
    # A key of its own for TOTP secrets, derived from the installation secret.
    return hmac.new(secret_key.encode(), b"totp-secret-encryption", hashlib.sha256).digest()


def seal(*, secret_key: str, plaintext: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(secret_key)).encrypt(nonce, plaintext.encode(), b"totp")
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(*, secret_key: str, sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    return AESGCM(_key(secret_key)).decrypt(raw[:12], raw[12:], b"totp").decode()


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(*, secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG markup (no script, no external reference)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer, kind="svg", scale=5, xmldecl=False, svgns=True, title="二次元コード"
    )
    return buffer.getvalue().decode()


def matching_step(*, secret: str, code: str, last_step: int, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (±1 step of clock drift), or None. A step at or before
    ``last_step`` is refused, so a code seen over someone's shoulder cannot be replayed."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // _STEP_S)
    for step in (current - 1, current, current + 1):
        if step > last_step and hmac.compare_digest(totp.at(step * _STEP_S), code):
            return step
    return None


def new_recovery_codes() -> tuple[list[str], list[str]]:
    """Ten codes to show once, and their hashes to store."""
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    return codes, [hash_recovery_code(c) for c in codes]


def hash_recovery_code(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace(" ", "").encode()).hexdigest()
