"""Guess a field's type from its printed label and shape; give it a unique machine name.

Deliberately a small table of words that Japanese municipal forms use, not a
model: an administrator reviews every proposal in the editor anyway.
"""

from __future__ import annotations

import re
import unicodedata

_TYPE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hiragana", ("ふりがな",)),
    ("katakana", ("フリガナ", "カナ")),
    ("postal", ("郵便番号", "〒")),
    ("phone", ("電話", "TEL", "携帯", "連絡先番号", "FAX")),
    ("date", ("生年月日", "年月日", "記入日", "申請日", "請求日", "届出日", "提出日", "交付日", "日付")),
    (
        "digits",
        (
            "個人番号",
            "マイナンバー",
            "法人番号",
            "口座番号",
            "番号",
            "通数",
            "枚数",
            "人数",
            "金額",
            "体重",
            "身長",
            "週数",
            "年齢",
            "(g)",
            "(kg)",
            "(cm)",
            "(円)",
        ),
    ),
)

# Label words -> name parts (longest first wins); anything else is numbered.
_NAME_WORDS: tuple[tuple[str, str], ...] = (
    ("生年月日", "birth_date"),
    ("郵便番号", "postal_code"),
    ("電話番号", "phone"),
    ("個人番号", "my_number"),
    ("マイナンバー", "my_number"),
    ("口座番号", "account_number"),
    ("記入日", "fill_date"),
    ("申請日", "application_date"),
    ("請求日", "request_date"),
    ("提出先", "submit_to"),
    ("ふりがな", "kana"),
    ("フリガナ", "kana"),
    ("保護者", "guardian"),
    ("世帯主", "householder"),
    ("代理人", "agent"),
    ("申請者", "applicant"),
    ("請求者", "applicant"),
    ("お子さん", "child"),
    ("本人", "self"),
    ("氏名", "name"),
    ("名前", "name"),
    ("住所", "address"),
    ("電話", "phone"),
    ("性別", "sex"),
    ("続柄", "relation"),
    ("体重", "weight"),
    ("身長", "height"),
    ("職業", "occupation"),
    ("勤務先", "employer"),
    ("金融機関", "bank"),
    ("支店", "branch"),
    ("口座名義", "account_holder"),
    ("理由", "reason"),
    ("アレルギー", "allergy"),
    ("服薬", "medication"),
    ("既往歴", "medical_history"),
    ("喫煙", "smoking"),
    ("飲酒", "drinking"),
    ("国籍", "nationality"),
    ("世帯", "household"),
    ("届出人", "notifier"),
    ("転入", "move_in"),
    ("転出", "move_out"),
    ("連絡先", "contact"),
    ("メール", "email"),
    ("年齢", "age"),
    ("職員", "staff"),
    ("備考", "remarks"),
    ("相談", "consultation"),
    ("心配", "concerns"),
    ("はい", "yes"),
    ("いいえ", "no"),
    ("不要", "no"),
    ("必要", "yes"),
    ("有", "yes"),
    ("無", "no"),
    ("あり", "yes"),
    ("なし", "no"),
    ("男", "male"),
    ("女", "female"),
    ("母", "mother"),
    ("父", "father"),
    ("その他", "other"),
    ("令和", "reiwa"),
    ("平成", "heisei"),
    ("昭和", "showa"),
    ("年", "year"),
    ("月", "month"),
    ("日", "day"),
    ("通", "count"),
)

EXCLUSIVE_SETS: tuple[frozenset[str], ...] = (
    frozenset({"はい", "いいえ"}),
    frozenset({"男", "女"}),
    frozenset({"必要", "不要"}),
    frozenset({"有", "無"}),
    frozenset({"あり", "なし"}),
    frozenset({"する", "しない"}),
    frozenset({"記載する", "記載しない"}),
    frozenset({"希望する", "希望しない"}),
)
"""Printed option pairs of which at most one can be meant."""

ERAS = ("令和", "平成", "昭和", "大正", "明治")


def guess_type(label: str, *, shape: str, cells: int = 0) -> str:
    """Field type from the label words and the shape (``checkbox``, ``comb``, ``slot``, ``box``)."""
    if shape == "checkbox":
        return "checkbox"
    text = unicodedata.normalize("NFKC", label)
    for field_type, words in _TYPE_WORDS:
        if any(unicodedata.normalize("NFKC", w) in text for w in words):
            if field_type in ("hiragana", "katakana") and shape == "comb":
                return "digits"
            return field_type
    if shape in ("comb", "slot"):
        return "digits"  # printed cells and 年/月/日/通 blanks take numbers
    return "text"


def name_part(label: str) -> str:
    """``birth_date`` from 生年月日 etc.; '' when no dictionary word is in the label."""
    text = unicodedata.normalize("NFKC", label)
    parts: list[tuple[int, str]] = []
    rest = text
    for word, part in sorted(_NAME_WORDS, key=lambda item: -len(item[0])):
        w = unicodedata.normalize("NFKC", word)
        if w in rest:
            parts.append((rest.index(w), part))
            rest = rest.replace(w, "\u0000" * len(w))
    ordered = [p for _i, p in sorted(parts)]
    seen: list[str] = []
    for part in ordered:
        if part not in seen:
            seen.append(part)
    return "_".join(seen[:3])


class NameBook:
    """Hands out unique machine names (``^[a-z][a-z0-9_]{0,62}$``)."""

    def __init__(self) -> None:
        self._used: set[str] = set()
        self._counter = 0

    def take(self, wanted: str, *, fallback: str) -> str:
        base = re.sub(r"[^a-z0-9_]+", "_", wanted.lower()).strip("_")[:50]
        if not base or not base[0].isalpha():
            self._counter += 1
            base = f"{fallback}_{self._counter}"
        name = base
        suffix = 2
        while name in self._used:
            name = f"{base}_{suffix}"
            suffix += 1
        self._used.add(name)
        return name
