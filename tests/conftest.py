"""Test fixtures: a real PostgreSQL database per run, a transaction per test rolled back at the end.

The database is created fresh for each pytest run (``ocrsvc_test_<random>``) from the
``test`` database on 127.0.0.1, migrated with Alembic (so migrations are tested too)
and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.api.app import create_app
from ocr_service.config import Settings
from ocr_service.db.migrate import upgrade_database
from ocr_service.keys.service import Keys, session_info
from ocr_service.storage.blobs import LocalBlobStore

PG_ADMIN_URL = os.environ.get("OCR_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("OCR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FORM_DIR = REPO_ROOT / "form_definitions" / "nyuyoji_kenshin"
EVAL_DIR = REPO_ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"ocrsvc_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade_database(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def engine(pg_url: str) -> Iterator[Engine]:
    eng = create_engine(pg_url)
    yield eng
    eng.dispose()


@pytest.fixture()
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture()
def keys(settings: Settings) -> Keys:
    """The key service of the test's settings (wrapped data keys under its tmp data dir)."""
    return Keys.from_settings(settings)


@pytest.fixture()
def session_factory(connection: Connection, keys: Keys) -> sessionmaker[Session]:
    # Sessions commit into SAVEPOINTs of the test's outer transaction, which is rolled back.
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False, info=session_info(keys)
    )


@pytest.fixture()
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture()
def settings(tmp_path: Path, pg_url: str) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=pg_url,
        broker_url=REDIS_URL,
        max_pages=5,
        max_upload_bytes=5 * 1024 * 1024,
    )


@pytest.fixture()
def store(settings: Settings) -> LocalBlobStore:
    return LocalBlobStore(settings.resolved_storage_dir)


@pytest.fixture()
def enqueued() -> list[str]:
    return []


@pytest.fixture()
def client(
    settings: Settings, session_factory: sessionmaker[Session], store: LocalBlobStore, enqueued: list[str]
) -> Iterator[TestClient]:
    app = create_app(settings, session_factory=session_factory, store=store, enqueue=enqueued.append)
    with TestClient(app) as test_client:
        yield test_client
