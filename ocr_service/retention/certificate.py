"""Deletion certificates (削除証明書): canonical JSON signed with the installation's Ed25519 key.

The downloadable file is ``{"certificate": {...}, "signature": b64, "public_key_pem": ..., "key_id": ...}``.
The signature covers the canonical bytes of ``certificate`` (sorted keys, no spaces, UTF-8).
Nothing personal goes in: ids, form codes, counts, hashes, times and the verification results.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from ocr_service.config import Settings
from ocr_service.retention.erase import ErasedDocument
from ocr_service.signing import key_id, public_key_pem, sign, verify_signature

FORMAT = "ocr-service/deletion-certificate/v1"
METHOD = {
    "name": "cryptographic-erase",
    "standard": "NIST SP 800-88 Rev.1 Purge (cryptographic erase)",
    "ja": "文書ごとのデータ暗号鍵を破棄（暗号化消去）した後、暗号化された画像・文字データと関連行を削除",
    "en": "per-document AES-256 data key destroyed (cryptographic erase), then ciphertext blobs and text rows removed",
}
TRIGGER_JA = {
    "schedule": "定期削除ジョブ",
    "cli": "コマンド（retention run）",
    "manual": "職員による手動削除",
}


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def certificate_body(
    *,
    certificate_id: str,
    org_id: int,
    org_name: str,
    issued_at: datetime,
    trigger: str,
    triggered_by: str,
    retention_days: int | None,
    erased: list[ErasedDocument],
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "certificate_id": certificate_id,
        "organisation": {"id": org_id, "name": org_name},
        "issued_at": issued_at.isoformat(),
        "trigger": {"kind": trigger, "by": triggered_by, "label_ja": TRIGGER_JA.get(trigger, trigger)},
        "retention_days": retention_days,
        "method": METHOD,
        "documents": [
            {
                "document_id": e.tombstone.document_id,
                "form_code": e.tombstone.form_code,
                "form_version": e.tombstone.form_version,
                "page_count": e.tombstone.page_count,
                "sha256": e.tombstone.sha256,
                "uploaded_at": _iso(e.tombstone.uploaded_at),
                "exported_at": _iso(e.tombstone.exported_at),
                "deleted_at": _iso(e.tombstone.deleted_at),
                "verification": e.verification.as_json(),
            }
            for e in erased
        ],
    }


def signed_document(settings: Settings, body: dict[str, Any]) -> str:
    pem = public_key_pem(settings)
    return json.dumps(
        {
            "certificate": body,
            "signature": base64.b64encode(sign(settings, canonical(body))).decode("ascii"),
            "public_key_pem": pem.decode("ascii"),
            "key_id": key_id(pem),
        },
        ensure_ascii=False,
        indent=2,
        sort_keys=True,
    )


def check_signature(document: dict[str, Any], *, trusted_public_pem: bytes) -> list[str]:
    """Problems with the signature; the signer must be the trusted (installation) key, not just any key."""
    problems = []
    body = document.get("certificate")
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        return ["not a deletion certificate"]
    if str(document.get("public_key_pem", "")).strip() != trusted_public_pem.decode("ascii").strip():
        problems.append("signed by another key than this installation's")
    try:
        signature = base64.b64decode(str(document.get("signature", "")), validate=True)
    except ValueError:
        return [*problems, "signature is not base64"]
    if not verify_signature(trusted_public_pem, canonical(body), signature):
        problems.append("signature does not match the certificate contents")
    return problems
