"""利用状況報告: what an organisation did with personal data in one month, from the audit log.

Counted from audit events, not from the documents table: documents are deleted after their
retention period, the (hash-chained) log is what remains. Personal-data items are the fields
of each form that carry a ``category`` (氏名・住所・生年月日・電話・個人番号…), times the
documents of that form received in the month.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent
from ocr_service.audit.review import is_export
from ocr_service.auth.models import User
from ocr_service.forms.models import FormDefinition
from ocr_service.orgs.models import Organisation

JST = timezone(timedelta(hours=9), "JST")
CERTIFICATE_ACTION = "retention.certificate_issued"
"""One event per deletion certificate (automatic or on request), listing the erased documents."""
UNKNOWN_FORM = "（自動判別）"


class ReportError(ValueError):
    """Bad month or unknown organisation; the message is shown as is."""


@dataclass
class FormUsage:
    code: str
    title: str = ""
    documents: int = 0
    pages: int = 0
    confirmed: int = 0
    exported_documents: int = 0
    views: int = 0
    items: Counter[str] = field(default_factory=Counter)


@dataclass
class Deletion:
    at: datetime
    document_id: str
    form_code: str
    certificate_id: str
    actor: str


@dataclass
class Account:
    username: str
    display_name: str
    role: str
    active: bool
    last_used: datetime | None
    events_in_month: int


@dataclass
class UsageReport:
    org_name: str
    month: str
    forms: list[FormUsage]
    exports: int
    export_rows: int
    deletions: list[Deletion]
    accounts: list[Account]
    events: int

    @property
    def documents(self) -> int:
        return sum(f.documents for f in self.forms)

    @property
    def pages(self) -> int:
        return sum(f.pages for f in self.forms)

    @property
    def items(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for form in self.forms:
            total.update(form.items)
        return total


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """Start and end (exclusive) of a JST calendar month given as YYYY-MM."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise ReportError(f"月は YYYY-MM で指定してください（{month!r}）") from exc
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(first, time(0), tzinfo=JST), datetime.combine(following, time(0), tzinfo=JST)


def _categories(db: Session, *, org_id: int, code: str) -> tuple[str, Counter[str]]:
    """Title and per-category field count of the latest version of a form (0 fields if unknown)."""
    form = db.scalar(
        select(FormDefinition)
        .where(FormDefinition.org_id == org_id, FormDefinition.code == code)
        .order_by(FormDefinition.version.desc())
        .limit(1)
    )
    if form is None:
        return "", Counter()
    counts = Counter(str(f["category"]) for f in form.layout.get("fields", []) if f.get("category"))
    return form.title, counts


def build_usage_report(db: Session, *, org: Organisation, month: str) -> UsageReport:
    """The report for ``org`` (the session must be system-scoped: it reads the org's forms)."""
    start, end = month_bounds(month)
    events = list(
        db.scalars(
            select(AuditEvent)
            .where(AuditEvent.org_id == org.id, AuditEvent.created_at >= start, AuditEvent.created_at < end)
            .order_by(AuditEvent.seq)
        )
    )
    forms: dict[str, FormUsage] = {}

    def usage(code: str) -> FormUsage:
        key = code or UNKNOWN_FORM
        return forms.setdefault(key, FormUsage(code=key))

    exports = export_rows = 0
    deletions: list[Deletion] = []
    per_user: Counter[int] = Counter()
    # Uploads that named no form are counted under the forms their pages were identified as.
    unnamed: dict[str, int] = {}
    for event in events:
        if event.user_id is not None:
            per_user[event.user_id] += 1
        if event.action == "document.upload" and not event.form_code and event.document_id:
            unnamed[event.document_id] = int(event.detail.get("pages") or 0)
        elif event.action == "document.upload":
            row = usage(event.form_code)
            row.documents += 1
            row.pages += int(event.detail.get("pages") or 0)
        elif event.action == "document.recognized" and event.document_id in unnamed:
            del unnamed[event.document_id]
            for code, pages in dict(event.detail.get("forms") or {}).items():
                row = usage(str(code))
                row.documents += 1
                row.pages += int(pages)
        elif event.action == "review.confirm":
            usage(event.form_code).confirmed += 1
        elif event.action in ("document.view", "document.page_view"):
            usage(event.form_code).views += 1
        elif is_export(event.action):
            exports += 1
            export_rows += int(event.detail.get("rows") or 0)
            usage(event.form_code).exported_documents += len(event.detail.get("documents") or [])
        elif event.action == CERTIFICATE_ACTION:
            for document_id in event.detail.get("documents") or []:
                deletions.append(
                    Deletion(
                        at=event.created_at,
                        document_id=str(document_id),
                        form_code=_tombstone_form(db, str(document_id)),
                        certificate_id=event.object_id,
                        actor=event.actor,
                    )
                )
    if unnamed:  # uploaded this month, not (yet) recognised
        usage("").documents += len(unnamed)
        usage("").pages += sum(unnamed.values())
    for row in forms.values():
        if row.code != UNKNOWN_FORM:
            row.title, per_document = _categories(db, org_id=org.id, code=row.code)
            row.items = Counter({category: n * row.documents for category, n in per_document.items()})
    return UsageReport(
        org_name=org.name,
        month=month,
        forms=sorted(forms.values(), key=lambda f: f.code),
        exports=exports,
        export_rows=export_rows,
        deletions=deletions,
        accounts=_accounts(db, org_id=org.id, per_user=per_user),
        events=len(events),
    )


def _tombstone_form(db: Session, document_id: str) -> str:
    from ocr_service.retention.models import DocumentTombstone

    tombstone = db.get(DocumentTombstone, document_id)
    return tombstone.form_code if tombstone is not None else ""


def _accounts(db: Session, *, org_id: int, per_user: Counter[int]) -> list[Account]:
    last_used: dict[int, datetime] = defaultdict()
    rows = db.execute(
        select(AuditEvent.user_id, func.max(AuditEvent.created_at))
        .where(AuditEvent.org_id == org_id, AuditEvent.user_id.is_not(None))
        .group_by(AuditEvent.user_id)
    )
    for user_id, moment in rows:
        if user_id is not None and moment is not None:
            last_used[int(user_id)] = moment
    users = db.scalars(select(User).where(User.org_id == org_id).order_by(User.username))
    return [
        Account(
            username=u.username,
            display_name=u.display_name,
            role=u.role,
            active=u.is_active,
            last_used=last_used.get(u.id),
            events_in_month=per_user.get(u.id, 0),
        )
        for u in users
    ]
