"""Shared CLI plumbing: settings, a system-scoped session, the blob store, org lookup."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.config import Settings, get_settings
from ocr_service.db.base import make_engine, make_session_factory
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.keys.service import Keys, session_info
from ocr_service.orgs.models import Organisation
from ocr_service.storage.blobs import BlobStore, blob_store_from_settings


def settings() -> Settings:
    return get_settings()


def blob_store(cfg: Settings) -> BlobStore:
    return blob_store_from_settings(cfg)


@contextmanager
def system_session(cfg: Settings) -> Iterator[Session]:
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


def fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)
