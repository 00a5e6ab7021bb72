"""Log review (ログ監査): filtered events and the flags a privacy officer looks at first.

Logs are too many to read, so review starts from what stands out: work at unnatural hours,
bulk viewing, forms outside a person's usual duties, failed logins, unexpected networks and
exports. Every flag names the events behind it.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import jpholiday
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from ocr_service.audit.chain import as_utc
from ocr_service.audit.labels import action_label
from ocr_service.audit.models import AuditEvent
from ocr_service.config import Settings
from ocr_service.orgs.models import Organisation

JST = timezone(timedelta(hours=9), "JST")
VIEW_ACTIONS = frozenset(
    {
        "document.view",
        "document.page_view",
        "document.crop_view",
        "review.blind_entry_view",
        "review.arbitration_view",
    }
)
FAILED_LOGIN_ACTIONS = frozenset({"auth.login_failed", "auth.lockout", "auth.mfa_failed"})
MAX_ROWS = 2000

FLAG_LABELS = {
    "off_hours": "業務時間外の操作",
    "bulk_view": "短時間の大量閲覧",
    "unusual_form": "通常扱わない様式へのアクセス",
    "failed_login": "ログイン失敗・ロック",
    "unexpected_network": "想定外のネットワークからの接続",
    "export": "データの出力",
}


@dataclass
class Filters:
    user: str = ""
    org_id: int | None = None
    action: str = ""
    form: str = ""
    date_from: date | None = None
    date_to: date | None = None
    seqs: list[int] = field(default_factory=list)


@dataclass
class Flag:
    kind: str
    actor: str
    summary: str
    seqs: list[int]

    @property
    def label(self) -> str:
        return FLAG_LABELS[self.kind]


def visible_org_ids(db: Session, *, org_id: int) -> list[int]:
    """The viewer's organisation and everything below it (a department sees its groups)."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for org in db.scalars(select(Organisation)):
        children[org.parent_id].append(org.id)
    found, stack = [], [org_id]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def _scoped(
    statement: Select[tuple[AuditEvent]], org_ids: list[int], *, include_orgless: bool
) -> Select[tuple[AuditEvent]]:
    if include_orgless:
        return statement.where(AuditEvent.org_id.in_(org_ids) | AuditEvent.org_id.is_(None))
    return statement.where(AuditEvent.org_id.in_(org_ids))


def _jst_day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=JST)


def known_values(db: Session, *, org_ids: list[int], include_orgless: bool) -> dict[str, list[str]]:
    """People, actions and forms that occur in the viewer's log (suggestions for the filter fields)."""
    found: dict[str, list[str]] = {}
    for name, column in (
        ("actors", AuditEvent.actor),
        ("actions", AuditEvent.action),
        ("forms", AuditEvent.form_code),
    ):
        visible: ColumnElement[bool] = AuditEvent.org_id.in_(org_ids)
        if include_orgless:
            visible = visible | AuditEvent.org_id.is_(None)
        statement = select(column).distinct().where(column != "", visible).order_by(column).limit(300)
        found[name] = [str(v) for v in db.scalars(statement)]
    return found


def query_events(
    db: Session, *, org_ids: list[int], include_orgless: bool, filters: Filters
) -> list[AuditEvent]:
    statement = _scoped(select(AuditEvent), org_ids, include_orgless=include_orgless)
    if filters.seqs:
        statement = statement.where(AuditEvent.seq.in_(filters.seqs[:500]))
    if filters.user:
        statement = statement.where(AuditEvent.actor == filters.user)
    if filters.org_id is not None:
        statement = statement.where(AuditEvent.org_id == filters.org_id)
    if filters.action:
        statement = statement.where(AuditEvent.action.startswith(filters.action, autoescape=True))
    if filters.form:
        statement = statement.where(AuditEvent.form_code == filters.form)
    if filters.date_from:
        statement = statement.where(AuditEvent.created_at >= _jst_day_start(filters.date_from))
    if filters.date_to:
        statement = statement.where(
            AuditEvent.created_at < _jst_day_start(filters.date_to + timedelta(days=1))
        )
    return list(db.scalars(statement.order_by(AuditEvent.seq.desc()).limit(MAX_ROWS)))


def jst(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(JST)


def _business_hours(settings: Settings) -> tuple[time, time]:
    start, end = settings.audit_business_hours.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def is_off_hours(moment: datetime, settings: Settings) -> bool:
    local = jst(moment)
    start, end = _business_hours(settings)
    if local.weekday() >= 5 or jpholiday.is_holiday(local.date()):
        return True
    return not (start <= local.time() < end)


def _off_hours(events: list[AuditEvent], settings: Settings) -> list[Flag]:
    grouped: dict[tuple[str, date], list[AuditEvent]] = defaultdict(list)
    for event in events:
        if event.user_id is not None and is_off_hours(event.created_at, settings):
            grouped[(event.actor, jst(event.created_at).date())].append(event)
    return [
        Flag("off_hours", actor, f"{day:%Y-%m-%d} 業務時間外に {len(items)} 件の操作", [e.seq for e in items])
        for (actor, day), items in grouped.items()
    ]


def _bulk_views(events: list[AuditEvent], settings: Settings) -> list[Flag]:
    limit, window = settings.audit_bulk_view_documents, timedelta(minutes=settings.audit_bulk_view_minutes)
    per_actor: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in events:
        if event.action in VIEW_ACTIONS and event.document_id and event.user_id is not None:
            per_actor[event.actor].append(event)
    flags = []
    for actor, views in per_actor.items():
        views.sort(key=lambda e: e.seq)
        start = 0
        for end in range(len(views)):
            while as_utc(views[end].created_at) - as_utc(views[start].created_at) > window:
                start += 1
            in_window = views[start : end + 1]
            documents = {e.document_id for e in in_window}
            if len(documents) >= limit:
                flags.append(
                    Flag(
                        "bulk_view",
                        actor,
                        f"{settings.audit_bulk_view_minutes} 分以内に {len(documents)} 件の文書を閲覧",
                        [e.seq for e in in_window],
                    )
                )
                start = end + 1  # the next flag starts after this window
    return flags


def _unusual_forms(db: Session, events: list[AuditEvent], settings: Settings) -> list[Flag]:
    with_form = [e for e in events if e.form_code and e.user_id is not None]
    if not with_form:
        return []
    earliest = min(as_utc(e.created_at) for e in with_form)
    since = earliest - timedelta(days=settings.audit_usual_forms_days)
    usual: dict[int, set[str]] = defaultdict(set)
    rows = db.execute(
        select(AuditEvent.user_id, AuditEvent.form_code).where(
            AuditEvent.user_id.in_({e.user_id for e in with_form}),
            AuditEvent.form_code != "",
            AuditEvent.created_at >= since,
            AuditEvent.created_at < earliest,
        )
    )
    for user_id, form_code in rows:
        if user_id is not None:
            usual[int(user_id)].add(str(form_code))
    grouped: dict[tuple[str, str], list[AuditEvent]] = defaultdict(list)
    for event in with_form:
        assert event.user_id is not None
        known = usual.get(event.user_id)
        # Someone without history has no "usual" yet: nothing to compare with.
        if known and event.form_code not in known:
            grouped[(event.actor, event.form_code)].append(event)
    return [
        Flag(
            "unusual_form",
            actor,
            f"様式 {form} に {len(items)} 件（過去 {settings.audit_usual_forms_days} 日に扱いなし）",
            [e.seq for e in items],
        )
        for (actor, form), items in grouped.items()
    ]


def _failed_logins(events: list[AuditEvent]) -> list[Flag]:
    grouped: dict[tuple[str, date], list[AuditEvent]] = defaultdict(list)
    for event in events:
        if event.action in FAILED_LOGIN_ACTIONS:
            name = str(event.detail.get("username", event.actor))
            grouped[(name, jst(event.created_at).date())].append(event)
    return [
        Flag(
            "failed_login",
            name,
            f"{day:%Y-%m-%d} ログイン失敗・ロック {len(items)} 件",
            [e.seq for e in items],
        )
        for (name, day), items in grouped.items()
    ]


def _unexpected_networks(events: list[AuditEvent], settings: Settings) -> list[Flag]:
    networks = [ipaddress.ip_network(n, strict=False) for n in settings.audit_expected_networks]
    grouped: dict[tuple[str, str], list[AuditEvent]] = defaultdict(list)
    for event in events:
        if not event.ip:
            continue
        try:
            address = ipaddress.ip_address(event.ip)
        except ValueError:
            address = None
        if address is None or not any(address in n for n in networks if n.version == address.version):
            grouped[(event.actor, event.ip)].append(event)
    return [
        Flag("unexpected_network", actor, f"{ip} から {len(items)} 件", [e.seq for e in items])
        for (actor, ip), items in grouped.items()
    ]


def is_export(action: str) -> bool:
    return (action.startswith("export.") and not action.startswith("export.mapping")) or action.endswith(
        ".download"
    )


def _exports(events: list[AuditEvent]) -> list[Flag]:
    return [
        Flag(
            "export",
            e.actor,
            f"{jst(e.created_at):%Y-%m-%d %H:%M} {e.action} {e.form_code} {e.detail.get('rows', '')} 件",
            [e.seq],
        )
        for e in events
        if is_export(e.action)
    ]


def compute_flags(db: Session, events: list[AuditEvent], settings: Settings) -> list[Flag]:
    return [
        *_off_hours(events, settings),
        *_bulk_views(events, settings),
        *_unusual_forms(db, events, settings),
        *_failed_logins(events),
        *_unexpected_networks(events, settings),
        *_exports(events),
    ]


CSV_HEADER = [
    "連番",
    "日時(JST)",
    "組織ID",
    "利用者",
    "操作",
    "操作名",
    "対象種別",
    "対象ID",
    "文書ID",
    "様式",
    "接続元",
    "詳細",
    "フラグ",
]


def events_csv(events: list[AuditEvent], flags: list[Flag]) -> bytes:
    """CP932 (Excel on Japanese Windows) with CRLF; characters CP932 lacks become 〓 (geta)."""
    flagged: dict[int, list[str]] = defaultdict(list)
    for flag in flags:
        for seq in flag.seqs:
            flagged[seq].append(flag.label)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for e in events:
        row = [
            e.seq,
            f"{jst(e.created_at):%Y-%m-%d %H:%M:%S}",
            e.org_id or "",
            e.actor,
            e.action,
            action_label(e.action),
            e.object_type,
            e.object_id,
            e.document_id or "",
            e.form_code,
            e.ip,
            json.dumps(e.detail, ensure_ascii=False, sort_keys=True),
            "・".join(dict.fromkeys(flagged.get(e.seq, []))),
        ]
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return encode_cp932(buffer.getvalue())


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """A cell Excel will not run as a formula: log values are typed by anyone (a failed login's name)."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def encode_cp932(text: str) -> bytes:
    try:
        return text.encode("cp932")
    except UnicodeEncodeError:
        return "".join(_cp932_char(c) for c in text).encode("cp932")


def _cp932_char(char: str) -> str:
    try:
        char.encode("cp932")
    except UnicodeEncodeError:
        return "〓"
    return char
