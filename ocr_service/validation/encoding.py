"""Can a value be written in a target character encoding (the export profiles' code pages)?

Core systems of municipalities still import CSV in legacy code pages. The
trap is that "Shift_JIS" means two things: Microsoft's CP932 (with NEC and
IBM extensions: 髙, 﨑, ①, ～) and strict JIS X 0208 Shift_JIS, which has
none of them; EUC-JP here is the JIS X 0208 form, so it agrees with strict
Shift_JIS. Characters outside the BMP such as 𠮷 (U+20BB7) and ideographic
variation sequences (葛󠄀) are in no legacy code page at all.
"""

from __future__ import annotations

import codecs
from typing import Literal

__all__ = ["TARGET_ENCODINGS", "TargetEncoding", "is_representable", "representability", "unrepresentable"]

TargetEncoding = Literal["utf-8", "cp932", "shift_jis", "euc-jp"]
TARGET_ENCODINGS: tuple[TargetEncoding, ...] = ("utf-8", "cp932", "shift_jis", "euc-jp")

_CODECS: dict[str, str] = {"utf-8": "utf-8", "cp932": "cp932", "shift_jis": "shift_jis", "euc-jp": "euc_jp"}


def _codec(encoding: str) -> str:
    try:
        return _CODECS[encoding]
    except KeyError:
        raise ValueError(f"unknown target encoding {encoding!r}; use one of {', '.join(_CODECS)}") from None


def unrepresentable(text: str, encoding: TargetEncoding) -> list[str]:
    """The distinct characters of ``text`` that ``encoding`` cannot hold, in order of appearance."""
    encoder = codecs.getincrementalencoder(_codec(encoding))(errors="strict")
    missing: list[str] = []
    for ch in text:
        try:
            encoder.encode(ch)
        except UnicodeEncodeError:
            if ch not in missing:
                missing.append(ch)
        encoder.reset()
    return missing


def is_representable(text: str, encoding: TargetEncoding) -> bool:
    return not unrepresentable(text, encoding)


def representability(
    text: str, encodings: tuple[TargetEncoding, ...] = TARGET_ENCODINGS
) -> dict[TargetEncoding, list[str]]:
    """For each target encoding, the characters of ``text`` it cannot hold (empty list = fine)."""
    return {encoding: unrepresentable(text, encoding) for encoding in encodings}
