"""Character rules for CSV values: half/full width, code-page variants, representability."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

_HALF_KANA = re.compile(r"[\uff61-\uff9f]+")


def _half_kana_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for code in range(0xFF61, 0xFFA0):
        half = chr(code)
        table.setdefault(unicodedata.normalize("NFKC", half), half)
        for mark in ("\uff9e", "\uff9f"):  # ﾞ ﾟ
            composed = unicodedata.normalize("NFKC", half + mark)
            if len(composed) == 1:
                table.setdefault(composed, half + mark)
    return table


_TO_HALF = {chr(c + 0xFEE0): chr(c) for c in range(0x21, 0x7F)} | {"\u3000": " "} | _half_kana_table()
_TO_FULL_ASCII = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"}

# The same JIS code points map to different Unicode characters in CP932 and in JIS X 0208
# Shift_JIS (〜 vs ～, − vs －, ...). Moving between them changes no character a person
# sees, so it is done without asking; anything else unencodable is reported.
_SJIS_TO_CP932 = {
    "\u301c": "\uff5e",
    "\u2016": "\u2225",
    "\u2212": "\uff0d",
    "\u00a2": "\uffe0",
    "\u00a3": "\uffe1",
    "\u00ac": "\uffe2",
}
_CP932_TO_SJIS = {v: k for k, v in _SJIS_TO_CP932.items()}


def apply_width(value: str, rule: str) -> str:
    """half: 全角英数記号・スペース・カタカナ → 半角; full: 半角 → 全角; keep: unchanged."""
    if rule == "half":
        return "".join(_TO_HALF.get(ch, ch) for ch in value)
    if rule == "full":
        value = _HALF_KANA.sub(lambda m: unicodedata.normalize("NFKC", m[0]), value)
        return "".join(_TO_FULL_ASCII.get(ch, ch) for ch in value)
    return value


def normalize_variants(value: str, encoding: str) -> str:
    table = _SJIS_TO_CP932 if encoding == "cp932" else _CP932_TO_SJIS if encoding == "shift_jis" else {}
    return "".join(table.get(ch, ch) for ch in value)


def is_representable(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Unrepresentable:
    char: str
    replacement_unusable: bool = False
    """A mapping exists but its replacement cannot be encoded either."""


def represent(
    value: str, *, encoding: str, mapping: Mapping[str, str] | None
) -> tuple[str, list[Unrepresentable]]:
    """``value`` made encodable with ``mapping`` (None: refuse policy), and the characters that stay unencodable."""
    value = normalize_variants(value, encoding)
    out: list[str] = []
    problems: list[Unrepresentable] = []
    for char in value:
        if is_representable(char, encoding):
            out.append(char)
            continue
        replacement = (mapping or {}).get(char)
        if replacement is None:
            problems.append(Unrepresentable(char))
        elif not all(is_representable(c, encoding) for c in replacement):
            problems.append(Unrepresentable(char, replacement_unusable=True))
        else:
            out.append(replacement)
    return "".join(out), problems
