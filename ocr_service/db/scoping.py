"""Organisation scoping: the one mechanism that keeps organisations apart.

Every ORM session carries a scope in ``session.info``:

* ``OrgScope(org_id)`` for a request made by a user or API token. Every SELECT
  that touches an :class:`~ocr_service.db.base.OrgScoped` table gets
  ``org_id = :org`` added (``with_loader_criteria``, also for joins and
  relationship loads), and a flush refuses to write a row of another org.
* ``SYSTEM_SCOPE`` for workers, beat and the CLI, which act for all orgs.

A session with no scope cannot read or write scoped rows at all: deny by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from ocr_service.db.base import OrgScoped

_SCOPE_KEY = "org_scope"


class ScopeError(PermissionError):
    """Raised when code touches organisation data without a scope, or crosses orgs."""


@dataclass(frozen=True)
class OrgScope:
    org_id: int
    personal_data: bool = True
    """False when the caller's terminal is not on a 個人情報系 network: rows registered with
    :func:`guard_personal_data` (documents of ``personal_data`` forms) are then filtered out too."""


# Entity -> builder of the condition that keeps only rows without personal data.
_personal_data_guards: dict[type[Any], Callable[[], ColumnElement[bool]]] = {}


def guard_personal_data(entity: type[Any], condition: Callable[[], ColumnElement[bool]]) -> None:
    """Register ``entity``: an org scope with ``personal_data=False`` only sees rows matching ``condition``.

    ``condition`` must use Core tables (``Model.__table__``) in its sub-selects, not ORM entities,
    or the loader criteria would be applied inside the sub-select as well.
    """
    _personal_data_guards[entity] = condition


@dataclass(frozen=True)
class SystemScope:
    reason: str


SYSTEM_SCOPE = SystemScope("system")


def set_scope(session: Session, scope: OrgScope | SystemScope) -> Session:
    session.info[_SCOPE_KEY] = scope
    return session


def get_scope(session: Session) -> OrgScope | SystemScope | None:
    scope = session.info.get(_SCOPE_KEY)
    return scope if isinstance(scope, OrgScope | SystemScope) else None


def _touches_scoped_table(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, OrgScoped) for mapper in state.all_mappers)


@event.listens_for(Session, "do_orm_execute")
def _apply_org_criteria(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if not _touches_scoped_table(state):
        return
    scope = get_scope(state.session)
    if scope is None:
        raise ScopeError("query on organisation data from a session without a scope")
    if isinstance(scope, SystemScope):
        return
    org_id = scope.org_id
    options = [with_loader_criteria(OrgScoped, lambda cls: cls.org_id == org_id, include_aliases=True)]
    if not scope.personal_data:
        options += [
            with_loader_criteria(entity, condition(), include_aliases=True)
            for entity, condition in _personal_data_guards.items()
        ]
    state.statement = state.statement.options(*options)


@event.listens_for(Session, "before_flush")
def _check_writes(session: Session, _ctx: Any, _instances: Any) -> None:
    scope = get_scope(session)
    touched = [obj for obj in (*session.new, *session.dirty, *session.deleted) if isinstance(obj, OrgScoped)]
    if not touched:
        return
    if scope is None:
        raise ScopeError("write of organisation data from a session without a scope")
    if isinstance(scope, SystemScope):
        return
    for obj in touched:
        if obj.org_id != scope.org_id:
            raise ScopeError(f"write to another organisation's {type(obj).__name__} refused")
