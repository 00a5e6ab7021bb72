"""Declarative base, common columns and the engine/session factory."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, MetaData, String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, sessionmaker
from sqlalchemy.orm import Session as OrmSession

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """Random, non-enumerable primary key for rows that hold document data."""
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[float]: JSON}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OrgScoped:
    """Marker mixin: every row of a subclass belongs to one organisation.

    Queries on these tables are filtered to the session's organisation by
    :mod:`ocr_service.db.scoping`; no route writes its own ``org_id`` filter.
    """

    @declared_attr
    def org_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(ForeignKey("organisations.id"), index=True)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so API, worker and beat can share it."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine, *, info: dict[str, Any] | None = None) -> sessionmaker[OrmSession]:
    """``info`` reaches every session (the key service: ocr_service.keys.service.session_info)."""
    # Every process that opens sessions needs all tables mapped, or foreign keys cannot resolve.
    import ocr_service.db.models  # noqa: F401

    return sessionmaker(bind=engine, expire_on_commit=False, info=info or {})


class PlainNotOpenedError(RuntimeError):
    """Code read a sealed column's plain value without opening it first (a bug, never a user error)."""


def set_opened_plain(row: object, column: str, plain: str) -> None:
    """Remember ``plain`` for the sealed value ``column`` holds now; unmapped, so never flushed."""
    row.__dict__[f"_plain_{column}"] = (row.__dict__.get(column), plain)


def opened_plain(row: object, column: str) -> str:
    # Paired with the sealed value it came from: after a refresh the stale plain text is refused.
    pair = row.__dict__.get(f"_plain_{column}")
    if pair is None or pair[0] != row.__dict__.get(column):
        raise PlainNotOpenedError(f"{type(row).__name__}.{column} was not opened in this session")
    return str(pair[1])


__all__ = [
    "Base",
    "OrgScoped",
    "String",
    "TimestampMixin",
    "make_engine",
    "make_session_factory",
    "new_id",
    "opened_plain",
    "set_opened_plain",
    "utcnow",
]
