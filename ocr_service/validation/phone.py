"""Japanese telephone numbers: shape checks and hyphenation.

Number plan (総務省 電気通信番号計画), by the leading digits:

* mobile 070/080/090 and IP phone 050: 11 digits, written 090-1234-5678;
* free dial 0120 (10 digits, 0120-123-456) and 0800 (11 digits, 0800-123-4567);
  navi dial 0570 (10 digits, 0570-123-456);
* fixed lines: 10 digits = 0 + area code + local exchange + 4-digit subscriber
  number, where area code and exchange together have 5 digits; the area code
  has 1–4 digits after the 0 (03-1234-5678, 092-123-4567, 0465-12-3456,
  01267-1-2345).

Written hyphens are checked for shape only (the last group has four digits,
groups add up); the exact area-code split is not enforced because writers
group numbers the way they know them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ocr_service.validation.text import fold_width, unify_hyphens

__all__ = ["PhoneError", "PhoneKind", "PhoneNumber", "hyphenate_phone", "normalize_phone", "phone_kind"]

PhoneKind = Literal["mobile", "ip", "free_dial", "navi_dial", "fixed"]


class PhoneError(ValueError):
    """Not a telephone number; ``str(exc)`` is a Japanese reason for the reviewer."""


@dataclass(frozen=True)
class PhoneNumber:
    digits: str
    kind: PhoneKind

    @property
    def hyphenated(self) -> str:
        return hyphenate_phone(self.digits)


_TWO_DIGIT_AREAS = ("03", "06")
"""Area codes 0 + 1 digit (東京, 大阪)."""
_THREE_DIGIT_AREAS = frozenset(
    [
        "011",
        "017",
        "018",
        "019",
        "022",
        "023",
        "024",
        "025",
        "026",
        "027",
        "028",
        "029",
        "042",
        "043",
        "044",
        "045",
        "046",
        "047",
        "048",
        "049",
        "052",
        "053",
        "054",
        "055",
        "058",
        "059",
        "072",
        "073",
        "075",
        "076",
        "077",
        "078",
        "079",
        "082",
        "083",
        "084",
        "086",
        "087",
        "088",
        "089",
        "092",
        "093",
        "095",
        "096",
        "097",
        "098",
        "099",
    ]
)
"""Common 0 + 2 digit area codes (札幌, 仙台, 横浜, 名古屋, 京都, 神戸, 広島, 福岡, …)."""
_FIVE_DIGIT_AREAS = frozenset(
    [
        "01267",
        "01372",
        "01374",
        "01377",
        "01392",
        "01397",
        "01398",
        "01456",
        "01457",
        "01466",
        "01547",
        "01558",
        "01564",
        "01586",
        "01587",
        "01632",
        "01634",
        "01635",
        "01648",
        "01654",
        "01655",
        "01656",
        "01658",
        "04992",
        "04994",
        "04996",
        "04998",
        "05769",
        "05979",
        "07468",
        "08387",
        "08388",
        "08396",
        "08477",
        "08512",
        "08514",
        "09496",
        "09802",
        "09912",
        "09913",
        "09969",
    ]
)
"""The 0 + 4 digit area codes (small exchanges)."""

_KIND_NAMES = {
    "mobile": "携帯電話",
    "ip": "IP電話",
    "free_dial": "フリーダイヤル",
    "navi_dial": "ナビダイヤル",
    "fixed": "固定電話",
}


def phone_kind(digits: str) -> tuple[PhoneKind, int]:
    """Kind of a number from its leading digits, and the digit count that kind has."""
    if digits.startswith("050"):
        return "ip", 11
    if digits.startswith("0120"):
        return "free_dial", 10
    if digits.startswith("0800"):
        return "free_dial", 11
    if digits[:3] in ("070", "080", "090"):
        return "mobile", 11
    if digits.startswith("0570"):
        return "navi_dial", 10
    return "fixed", 10


def _area_length(digits: str) -> int:
    """Length of the area code of a fixed-line number, including the leading 0."""
    if digits[:2] in _TWO_DIGIT_AREAS:
        return 2
    if digits[:5] in _FIVE_DIGIT_AREAS:
        return 5
    if digits[:3] in _THREE_DIGIT_AREAS:
        return 3
    return 4


def hyphenate_phone(digits: str) -> str:
    """Conventional hyphenation of a valid number (``09012345678`` → ``090-1234-5678``)."""
    kind, _ = phone_kind(digits)
    if kind in ("mobile", "ip") or (kind == "free_dial" and len(digits) == 11):
        head = 3 if kind != "free_dial" else 4
        return f"{digits[:head]}-{digits[head:-4]}-{digits[-4:]}"
    if kind in ("free_dial", "navi_dial"):
        return f"{digits[:4]}-{digits[4:7]}-{digits[7:]}"
    area = _area_length(digits)
    return f"{digits[:area]}-{digits[area:6]}-{digits[6:]}"


def _groups_fit(groups: list[str], kind: PhoneKind) -> bool:
    if len(groups) == 1:
        return True
    if any(not g for g in groups) or len(groups) > 3:
        return False
    if kind in ("mobile", "ip"):
        return [len(g) for g in groups] in ([3, 4, 4], [3, 8])
    if kind in ("free_dial", "navi_dial"):
        # 0800 numbers are also written like mobiles (080-0123-4567): the digits are the same.
        return len(groups[0]) == 4 or [len(g) for g in groups] == [3, 4, 4]
    # Fixed line: the area code (with its 0) has 2–5 digits and the subscriber number 4.
    if not 2 <= len(groups[0]) <= 5:
        return False
    return len(groups) == 2 or len(groups[-1]) == 4


def normalize_phone(text: str) -> PhoneNumber:
    """Digits and kind of a written Japanese phone number.

    Accepts hyphens of any kind, parentheses (``03(1234)5678``, ``(03)1234-5678``),
    spaces, full-width digits and the +81 country code. Rejects a wrong digit
    count for the kind of number, a leading digit other than 0, and hyphen
    groups that do not fit the kind (``03-12345678`` is fine, ``0312-34-5678`` too,
    ``090-12-345678`` is not).
    """
    cleaned = unify_hyphens(fold_width(text))
    if not cleaned:
        raise PhoneError("電話番号が空欄です")
    if cleaned.startswith("+81"):
        cleaned = "0" + cleaned[3:].lstrip("-(")
    cleaned = re.sub(r"^\((\d+)\)", r"\1-", cleaned).replace("(", "-").replace(")", "-")
    if re.fullmatch(r"[\d-]+", cleaned) is None:
        raise PhoneError(f"「{text}」には電話番号に使えない文字があります")
    groups = cleaned.split("-")
    digits = "".join(groups)
    if not digits.startswith("0") or digits.startswith("00"):
        raise PhoneError("電話番号は0から始まり、2桁目は0以外です")
    kind, length = phone_kind(digits)
    if len(digits) != length:
        raise PhoneError(f"{_KIND_NAMES[kind]}の番号は{length}桁です（{len(digits)}桁）")
    if not _groups_fit(groups, kind):
        raise PhoneError(f"「{text}」はハイフンの位置が電話番号の形に合いません")
    return PhoneNumber(digits, kind)
