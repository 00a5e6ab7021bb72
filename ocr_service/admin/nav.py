"""The admin console's navigation: features register their screens here, once, at import.

A screen under ``/admin/...`` calls :func:`register_nav` at module level and renders a template
that extends ``admin/base.html``; the shell lists it for every user whose role is high enough.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocr_service.auth.models import ROLES


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    """Japanese label shown in the menu."""
    role: str = "admin"
    """Role needed to see the entry (as ``Principal.has_role``: ``auditor`` entries are also for admins)."""
    order: int = 100


_registry: dict[str, NavItem] = {}


def register_nav(path: str, label: str, *, role: str = "admin", order: int = 100) -> NavItem:
    """Add (or replace, so re-imports are harmless) one menu entry."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if not path.startswith("/admin"):
        raise ValueError("admin screens live under /admin")
    item = NavItem(path=path, label=label, role=role, order=order)
    _registry[path] = item
    return item


def nav_items_for(role: str) -> list[NavItem]:
    """The entries a user of ``role`` may open, in menu order."""
    from ocr_service.auth.service import role_allows

    visible = [i for i in _registry.values() if role_allows(role, i.role)]
    return sorted(visible, key=lambda i: (i.order, i.path))
