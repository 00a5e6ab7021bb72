"""A data key (DEK) in memory: 32 random bytes and the id of what it protects."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


@dataclass(frozen=True)
class DataKey:
    owner: str
    """The document id (or ``installation`` for non-personal files such as form templates)."""
    secret: bytes = field(repr=False)

    def aead(self) -> AESGCM:
        return AESGCM(self.secret)
