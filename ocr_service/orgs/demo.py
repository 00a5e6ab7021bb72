"""Demo organisation for the embedded default (``ocr-service up``): idempotent seeding."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.auth.models import User
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.forms.loader import LayoutError, load_layout_file
from ocr_service.forms.service import publish_form_version
from ocr_service.orgs.service import create_user, get_or_create_organisation
from ocr_service.storage.blobs import BlobStore

logger = logging.getLogger(__name__)

DEMO_ORG = "東山市 健康推進課"
DEMO_PARENT = "東山市"
DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS = (
    ("demo-admin", "admin", "管理者（デモ）"),
    ("demo-reviewer", "reviewer", "確認担当（デモ）"),
    ("demo-operator", "operator", "スキャン担当（デモ）"),
)


@dataclass(frozen=True)
class DemoSeed:
    org_name: str
    usernames: list[str]
    password: str
    forms: list[str]


def find_layout_files(directory: Path) -> list[Path]:
    """Every ``form.yaml`` / ``fields.json`` below ``directory`` (one per layout folder)."""
    found = sorted(directory.glob("*/form.yaml")) + sorted(directory.glob("*/fields.json"))
    return found


def load_layouts_into_org(db: Session, *, org_id: int, directory: Path, store: BlobStore) -> list[str]:
    loaded = []
    for path in find_layout_files(directory):
        try:
            source = load_layout_file(path)
        except LayoutError as exc:
            logger.warning("skipping layout: %s", exc)
            continue
        form = publish_form_version(db, org_id=org_id, source=source, store=store)
        loaded.append(f"{form.code}@v{form.version}")
    return loaded


def seed_demo(db: Session, *, store: BlobStore, form_dir: Path) -> DemoSeed:
    set_scope(db, SYSTEM_SCOPE)
    parent = get_or_create_organisation(db, name=DEMO_PARENT, kind="department")
    org = get_or_create_organisation(db, name=DEMO_ORG, parent_name=parent.name, kind="group")
    for username, role, display in DEMO_USERS:
        if db.scalar(select(User).where(User.username == username)) is None:
            # Demo accounts keep their documented password (no forced change); demo-admin still
            # enrols an authenticator at first login, as every admin must.
            create_user(
                db,
                org=org,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                display_name=display,
                must_change_password=False,
            )
    forms = (
        load_layouts_into_org(db, org_id=org.id, directory=form_dir, store=store) if form_dir.is_dir() else []
    )
    db.commit()
    return DemoSeed(
        org_name=org.name, usernames=[u for u, _, _ in DEMO_USERS], password=DEMO_PASSWORD, forms=forms
    )
