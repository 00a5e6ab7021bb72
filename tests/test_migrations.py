"""The Alembic chain builds exactly the schema the models describe (one head, no drift)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import ocr_service.db.models  # noqa: F401 - every table mapped
from ocr_service.db.base import Base
from ocr_service.db.migrate import upgrade_database


def test_migrations_match_the_models_on_sqlite(tmp_path: Path) -> None:
    """GIVEN an empty embedded database WHEN every migration runs THEN autogenerate finds no missing or extra
    table, column, index or constraint (types are not compared: SQLite keeps no VARCHAR lengths)."""
    url = f"sqlite:///{tmp_path / 'schema.sqlite3'}"
    upgrade_database(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []
