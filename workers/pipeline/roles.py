"""What a date field is for, read off its label, and what that makes plausible.

A form prints 「記入日 令和　年　月　日」 or 「生年月日（年）」: the label says whether the
date is the day the form was filled in (an application, request or fill-in date: it lies
in the last few years before the upload), a birth date (never in the future) or a date
that may lie ahead (転出予定日, 有効期限, 提出期限: not held to the past), and, for a date
split into boxes, which part a box holds. The role gives the beam decoder a prior
(:func:`workers.pipeline.priors.prior_for`, from :func:`plausible_values` and
:func:`too_old`) and the validator a review reason (:func:`implausible_reason`):
「請求日（年）」 read as ``1`` on a form uploaded in 令和8年 is a misread 7 far more often
than an application kept for seven years.

Only plausibility is judged, never truth: the decoder's prior never overturns a confident
reading, and an implausible value goes to review with the reason. Where the model finds a
plausible value nearly as likely, the page puts that value in its place, for review with both
values named (:mod:`workers.pipeline.plausible`); nothing implausible is changed unseen.

A free-text field may also hold a person's name (「氏名」「保護者氏名」, :func:`holds_person_name`):
no digit is ever written in one, so its decoding leaves digits out.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from enum import StrEnum

from ocr_service.validation.wareki import ERAS, DateError, Era, parse_date

__all__ = [
    "RECENT_YEARS",
    "FieldRole",
    "compact",
    "date_part_stem",
    "field_role",
    "holds_person_name",
    "implausible_reason",
    "is_birth_label",
    "last_era_year",
    "plausible_values",
    "recent_era_years",
    "too_old",
    "written_date",
]

RECENT_YEARS = 3
"""A fill-in date lies at most this many years before the upload (a form is rarely kept longer)."""

_RECENT_WORDS = re.compile(r"記入|申請|請求|届出|提出|受付|作成|依頼|申込")
_BIRTH_WORDS = re.compile(r"生年月日|誕生日|出生日")
_PLANNED_WORDS = re.compile(r"予定|期限|期日|満了|有効|予約|次回|まで")
"""A date that may lie after the upload: a plan, a deadline, an expiry (申請期限 is no 申請日)."""
_RECENT_NAMES = re.compile(r"(^|_)(fill|request|apply|application|submit|submission|receipt|entry)(_|$)")
_BIRTH_NAMES = re.compile(r"(^|_)(birth|birthday|dob)(_|$)")
_PART_LABEL = re.compile(r"(?:[（(]\s*(?P<paren>年|月|日)\s*[）)]|[：:・/／]\s*(?P<after>年|月|日))\s*$")
"""The part a box of a split date holds, at the end of its label: 「請求日（年）」 or 「生年月日：年」."""
_PART_NAME = re.compile(r"_(year|month|day)$")


_PERSON_LABEL = re.compile(r"氏名|名前|署名|記名")
"""Labels of a person's name: 氏名 (保護者氏名, 申請者氏名), お名前, 署名."""
_NOT_PERSON_LABEL = re.compile(r"名称|法人|団体|会社|事業所|商号|屋号")
"""...unless the label also allows an organisation (氏名又は名称, 法人名): those may hold digits."""


def holds_person_name(*, label: str, category: str | None, field_type: str | None) -> bool:
    """A free-text field that holds a person's name, by its label (Japanese) or its personal-data category.

    Args:
        label: the label reviewers see (``お子さんの氏名``).
        category: the layout's personal-data category (``氏名``), or None.
        field_type: the layout field type; only ``text`` fields (kana fields have their own charset).
    """
    if field_type != "text":
        return False
    label = compact(label)
    if _NOT_PERSON_LABEL.search(label):
        return False
    return category == "氏名" or bool(_PERSON_LABEL.search(label))


class FieldRole(StrEnum):
    """What a date-like field holds; None (no role) for every other field."""

    RECENT_DATE = "recent_date"
    """A whole fill-in / application date (type ``date``)."""
    PLANNED_DATE = "planned_date"
    """A whole date that may lie ahead (type ``date``): no "not after today" in its prior."""
    BIRTH_DATE = "birth_date"
    RECENT_YEAR = "recent_year"
    """The year box of a fill-in / application date (type ``digits``)."""
    BIRTH_YEAR = "birth_year"
    MONTH = "month"
    DAY = "day"


def compact(text: str) -> str:
    """NFKC without spaces (an ideographic space becomes a plain one first): how labels,
    dates and readings are compared."""
    return unicodedata.normalize("NFKC", text).replace(" ", "")


def field_role(*, name: str, label: str, field_type: str | None) -> FieldRole | None:
    """The role of a field from its label (Japanese) and machine name, or None.

    Args:
        name: the layout's machine name (``request_year``).
        label: the label reviewers see (``請求日（年）``).
        field_type: the layout field type; only ``date`` and ``digits`` fields take a role.
    """
    label = compact(label)
    recent = bool(
        _RECENT_WORDS.search(label) or (not _BIRTH_WORDS.search(label) and _RECENT_NAMES.search(name))
    )
    birth = bool(_BIRTH_WORDS.search(label) or (not recent and _BIRTH_NAMES.search(name)))
    planned = not birth and bool(_PLANNED_WORDS.search(label))
    recent = recent and not planned
    if field_type == "date":
        if birth:
            return FieldRole.BIRTH_DATE
        if planned:
            return FieldRole.PLANNED_DATE
        return FieldRole.RECENT_DATE if recent else None
    if field_type != "digits" or not (recent or birth):
        return None
    label_part = _PART_LABEL.search(label)
    name_part = _PART_NAME.search(name)
    part = (
        (label_part.group("paren") or label_part.group("after"))
        if label_part
        else {"year": "年", "month": "月", "day": "日"}.get(name_part.group(1) if name_part else "", "")
    )
    if part == "月":
        return FieldRole.MONTH
    if part == "日":
        return FieldRole.DAY
    if part == "年":
        return FieldRole.BIRTH_YEAR if birth else FieldRole.RECENT_YEAR
    return None


def is_birth_label(label: str) -> bool:
    """A label of a birth date or of a part of one (生年月日, 誕生日, 出生日: 「生年月日：令和」 too)."""
    return bool(_BIRTH_WORDS.search(compact(label)))


def date_part_stem(*, name: str, label: str) -> tuple[str | None, str | None]:
    """What the boxes of one split date share: the label and the machine name without the part
    (「請求日（年）」 request_year → 請求日, request); None where the label or name names no part."""
    label = compact(label)
    label_part, name_part = _PART_LABEL.search(label), _PART_NAME.search(name)
    return (
        label[: label_part.start()] if label_part else None,
        name[: name_part.start()] if name_part else None,
    )


def last_era_year(era: Era, reference: dt.date) -> int:
    """The last year of ``era``: its final year for an era that ended, else the year ``reference``
    falls in (令和8 in 2026)."""
    return era.last_year or reference.year - era.first_day.year + 1


def recent_era_years(reference: dt.date) -> frozenset[int]:
    """令和 years of the last :data:`RECENT_YEARS` years up to ``reference``."""
    now = last_era_year(ERAS[-1], reference)
    return frozenset(y for y in range(now - RECENT_YEARS, now + 1) if y >= 1)


def plausible_values(role: FieldRole, reference: dt.date) -> frozenset[str]:
    """Every text a digits box of ``role`` may plausibly hold (with and without a leading zero)."""
    numbers: set[int]
    if role is FieldRole.MONTH:
        numbers = set(range(1, 13))
    elif role is FieldRole.DAY:
        numbers = set(range(1, 32))
    elif role is FieldRole.RECENT_YEAR:
        # The printed era is 令和 on current forms; a writer may also put the western year.
        numbers = set(recent_era_years(reference)) | set(
            range(reference.year - RECENT_YEARS, reference.year + 1)
        )
    elif role is FieldRole.BIRTH_YEAR:
        numbers = set(range(1, 65)) | set(range(1900, reference.year + 1))
    else:
        return frozenset()
    texts = {str(n) for n in numbers} | {f"{n:02d}" for n in numbers if n < 10}
    return frozenset(texts)


def written_date(text: str) -> dt.date | None:
    """The day a written date names (和暦 or 西暦, :func:`~ocr_service.validation.wareki.parse_date`), or None."""
    try:
        return parse_date(text)
    except DateError:
        return None


def too_old(when: dt.date, reference: dt.date) -> bool:
    """A fill-in date more than :data:`RECENT_YEARS` years before ``reference``."""
    return when < reference.replace(year=reference.year - RECENT_YEARS, day=min(reference.day, 28))


def implausible_reason(role: FieldRole | None, value: str, reference: dt.date) -> str | None:
    """Why a read value of a field with ``role`` needs a look (Japanese), or None.

    Empty values and values the type's own validation rejects are not judged here.
    """
    text = compact(value)
    if role is None or not text:
        return None
    if role is FieldRole.RECENT_DATE:
        when = written_date(text)
        if when is not None and too_old(when, reference):
            return f"記入日・申請日が{RECENT_YEARS}年以上前です。読み取りを確認してください"
        if when is not None and when > reference:
            # A form is filled in before it is scanned: 令和9年 on a 令和8 upload is a misread 7.
            return "記入日・申請日が処理日より後です。読み取りを確認してください"
        return None
    if role is FieldRole.BIRTH_DATE:
        when = written_date(text)
        # The layout's not_future rule, where set, already rejects it; this is the default doubt.
        return "生年月日が処理日より後です。読み取りを確認してください" if when is not None and when > reference else None
    if not text.isdigit():
        return None
    if text in plausible_values(role, reference):
        return None
    if role is FieldRole.MONTH:
        return "月が1〜12ではありません"
    if role is FieldRole.DAY:
        return "日が1〜31ではありません"
    if role is FieldRole.RECENT_YEAR:
        return f"記入日・申請日の年が処理日から{RECENT_YEARS}年以上離れています。読み取りを確認してください"
    return "生年の年が不自然です"
