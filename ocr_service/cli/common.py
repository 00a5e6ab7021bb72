"""Shared CLI plumbing: settings, a system-scoped session, the blob store, org lookup."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ocr_service.config import Settings, get_settings
from ocr_service.db.base import make_engine, make_session_factory
from ocr_service.db.migrate import pending_migrations, upgrade_database
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.keys.service import Keys, session_info
from ocr_service.orgs.models import Organisation
from ocr_service.storage.blobs import BlobStore, blob_store_from_settings


def settings() -> Settings:
    return get_settings()


def blob_store(cfg: Settings) -> BlobStore:
    return blob_store_from_settings(cfg)


def ensure_database(cfg: Settings) -> None:
    """Every command gets a usable database or one line saying what to run first.

    The embedded SQLite default is created and migrated on the spot (a fresh data dir just works);
    an external database is never migrated behind the administrator's back.
    """
    url = cfg.resolved_database_url
    try:
        if not cfg.database_url:
            upgrade_database(url)
        elif pending_migrations(url):
            fail("The database schema is not up to date: run `ocr-service db upgrade` first.")
    except SQLAlchemyError as exc:
        fail(f"Cannot open the database ({type(exc).__name__}): check OCR_DATABASE_URL / OCR_DATA_DIR.")


@contextmanager
def system_session(cfg: Settings) -> Iterator[Session]:
    ensure_database(cfg)
    engine = make_engine(cfg.resolved_database_url)
    try:
        with make_session_factory(engine, info=session_info(Keys.from_settings(cfg)))() as db:
            set_scope(db, SYSTEM_SCOPE)
            yield db
    finally:
        engine.dispose()


def resolve_org(db: Session, name: str | None) -> Organisation:
    """The named organisation, or the only one that holds users when no name is given."""
    if name:
        org = db.scalar(select(Organisation).where(Organisation.name == name))
        if org is None:
            raise typer.BadParameter(f"organisation '{name}' does not exist")
        return org
    from ocr_service.auth.models import User

    orgs = list(db.scalars(select(Organisation).where(Organisation.id.in_(select(User.org_id)))))
    if not orgs:
        raise typer.BadParameter(
            "no organisation with users yet: run `ocr-service up` (demo) or "
            "`ocr-service org create NAME` and `ocr-service user create ...` first"
        )
    if len(orgs) != 1:
        names = ", ".join(o.name for o in orgs) or "none"
        raise typer.BadParameter(f"pass --org (organisations with users: {names})")
    return orgs[0]


def cli_audit(
    db: Session, action: str, *, org_id: int | None, obj: str, oid: object, **detail: object
) -> None:
    """Audit an administrator's command-line action as the CLI principal (the OS user)."""
    from ocr_service.audit.service import audit, cli_principal

    audit(
        db,
        cli_principal(),
        action,
        obj_type=obj,
        obj_id=str(oid),
        org_id=org_id,
        detail={"via": "cli", **detail},
    )


def fail(message: str) -> NoReturn:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)
