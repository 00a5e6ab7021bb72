"""Migration 0005 on an existing embedded (SQLite) installation with accounts, sessions and documents."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from ocr_service.auth.service import hash_password
from ocr_service.config import Settings, get_settings
from ocr_service.db.migrate import upgrade_database


def test_existing_accounts_keep_working_and_open_sessions_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a database at 0003 with a user that has uploaded a document and holds a session WHEN upgraded
    THEN the user is not locked, not forced to change, has no MFA, and the old session counts as idle."""
    settings = Settings(environment="test", data_dir=tmp_path)
    url = settings.resolved_database_url
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        upgrade_database(url, "0003")
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO organisations (id, name, kind, created_at) VALUES (1, 'A', 'department', '2026-01-01')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, org_id, username, display_name, password_hash, role, is_active, "
                    "password_changed_at, created_at) VALUES (1, 1, 'u', 'u', :h, 'reviewer', 1, '2026-01-01', '2026-01-01')"
                ),
                {"h": hash_password("Umbrella-7-Kettle-Quartz")},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO documents (id, org_id, uploaded_by, original_filename, sha256, size_bytes, page_count, "
                    "blob_key, status, attempts, updated_at, created_at) VALUES ('d1', 1, 1, 'a.pdf', '0', 1, 1, 'k', "
                    "'recognized', 1, '2026-01-01', '2026-01-01')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO login_sessions (id_sha256, user_id, expires_at, created_at) "
                    "VALUES ('s', 1, '2099-01-01', '2026-01-01')"
                )
            )
        engine.dispose()
        upgrade_database(url)
    finally:
        get_settings.cache_clear()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        user = conn.execute(
            sa.text(
                "SELECT must_change_password, failed_logins, locked_until, totp_secret, recovery_codes FROM users"
            )
        ).one()
        session = conn.execute(sa.text("SELECT last_seen_at, stage FROM login_sessions")).one()
        policy = conn.execute(sa.text("SELECT policy FROM organisations")).scalar_one()
    engine.dispose()
    assert tuple(user) == (0, 0, None, None, "[]")
    assert str(session[0]).startswith("1970") and session[1] == "full"
    assert policy == "{}"
