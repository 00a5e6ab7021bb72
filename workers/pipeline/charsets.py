"""Character sets per field type and text normalisation after recognition.

A field type narrows what the recogniser may emit (a postal code never holds a
kanji), and the same type decides how the decoded text is normalised so that
what reviewers and the CSV see is consistent: ASCII digits, one hyphen.
"""

from __future__ import annotations

import unicodedata

from workers.pipeline.scripts import is_kanji, is_katakana

__all__ = [
    "CHARSETS",
    "DASHES",
    "EXCLUDED",
    "NAME_EXCLUDED",
    "NUMBER_TYPES",
    "apply_kana_grammar",
    "apply_text_grammar",
    "charset_for_type",
    "finish_text",
    "normalize_text",
]

_DIGITS = "0123456789０１２３４５６７８９"
DASHES = "-‐‑‒–—―−－ーｰ"
"""Dashes and the long-vowel mark: what a handwritten hyphen is read as."""
_HYPHENS = DASHES + "一"
"""Dash look-alikes a recogniser emits for a handwritten hyphen (incl. 長音 and the kanji 一)."""

NUMBER_TYPES = frozenset({"digits", "phone", "postal", "date"})
"""Field types written in digits (with their separators and, for dates, era and units)."""

CHARSETS: dict[str, str] = {
    "digits": _DIGITS,
    "postal": _DIGITS + _HYPHENS + "〒",
    "phone": _DIGITS + _HYPHENS + "()（）",
    "date": _DIGITS + "令和平成昭和大正元年月日",
    "hiragana": "".join(chr(c) for c in range(ord("ぁ"), ord("ゖ") + 1)) + "ー゛゜",
    "katakana": "".join(chr(c) for c in range(ord("ァ"), ord("ヺ") + 1)) + "ー",
}
"""Allowed characters per field type; types not listed (text) are unconstrained."""

EXCLUDED: dict[str, str] = {
    "text": "『』【】〔〕《》〈〉/\\<>≤≥≦≧♪“”\"'`^_|~{}[]@#$%&*+=;!?«»αβγδεθλμπσωΩ©®™♀♂☆★※→←↑↓",
}
"""Characters a free-text field never holds although the dictionary has them.

PP-OCR reads a handwritten ``1`` as ``/`` and a ``2`` as ``α`` or ``≥`` in addresses;
none of these symbols is ever written into a municipal form, so the decoder takes the
best other character instead (dev forms: the commonest address error).
"""

NAME_EXCLUDED = _DIGITS
"""What a person's name never holds beyond :data:`EXCLUDED`: digits. PP-OCR reads a handwritten
kana as a digit at the end of a name (dev: 渡部さくら read 渡部さく5 at 0.79; without digits the
same line reads 渡部さくろ at 0.44, so the slip goes to review at least). Latin letters stay: a
foreign resident's name is written in them."""


_HYPHEN_TABLE = str.maketrans(dict.fromkeys(_HYPHENS, "-"))
_DAKUTEN_TABLE = str.maketrans({"゛": "\u3099", "゜": "\u309a", "ﾞ": "\u3099", "ﾟ": "\u309a"})


def charset_for_type(field_type: str | None) -> str | None:
    """Return the allowed characters for a field type, or None when unconstrained.

    Args:
        field_type: a layout field type (``digits``, ``postal``...) or None.

    Returns:
        the allowed characters, or None for free text.
    """
    if field_type is None:
        return None
    return CHARSETS.get(field_type)


def normalize_text(text: str, field_type: str | None = None) -> str:
    """Normalise decoded text the way the service stores it.

    NFKC (full-width digits and Latin become ASCII), stand-alone voicing marks
    are merged into the preceding kana (``か゛`` → ``が``: handwriting often
    separates them), and for postal/phone fields every dash look-alike becomes
    ``-`` and the 〒 mark is dropped.

    Args:
        text: raw decoded text.
        field_type: the field type, or None for free text.

    Returns:
        the normalised text (whitespace is kept; callers decide).
    """
    merged = unicodedata.normalize("NFC", text.translate(_DAKUTEN_TABLE))
    # Combining marks left without a base letter are meaningless on their own.
    merged = "".join(ch for ch in merged if ch not in "\u3099\u309a")
    out = unicodedata.normalize("NFKC", merged)
    if field_type in ("postal", "phone"):
        out = out.translate(_HYPHEN_TABLE).replace("〒", "")
        out = "".join(ch for ch in out if not ch.isspace())
    elif field_type in ("digits", "date"):
        out = "".join(ch for ch in out if not ch.isspace())
    return out


_I_ROW = set("きしちにひみりぎじぢびぴキシチニヒミリギジヂビピ")
"""Kana of the i-row: the only ones a small ゃゅょ (ャュョ) can follow (きゃ, しゅ, ちょ...)."""
_SMALL_YA = {"ゃ": "や", "ゅ": "ゆ", "ょ": "よ", "ャ": "ヤ", "ュ": "ユ", "ョ": "ヨ"}
_SMALL_ANY = {
    **_SMALL_YA,
    "ぁ": "あ", "ぃ": "い", "ぅ": "う", "ぇ": "え", "ぉ": "お", "っ": "つ", "ゎ": "わ",
    "ァ": "ア", "ィ": "イ", "ゥ": "ウ", "ェ": "エ", "ォ": "オ", "ッ": "ツ", "ヮ": "ワ",
}
"""Small kana and their full-size letters; no Japanese word starts with a small kana."""
_LONG_DASHES = set(_HYPHENS) - {"ー"}
"""What a recogniser makes of a handwritten ー inside a katakana word (kanji one, hyphens)."""
_NO_LONG_AFTER = set("ッっンんー")
"""Kana a long-vowel mark never follows."""
_NO_SOKUON_BEFORE = set(
    "あいうえおなにぬねのまみむめもやゆよらりるれろわをんぁぃぅぇぉゃゅょっ"
    "アイウエオナニヌネノマミムメモヤユヨラリルレロワヲンァィゥェォャュョッー"
)
"""Kana a small っ (ッ) never stands before: a doubled consonant needs a k/s/t/p-like one
(マッモト, タッヤ are ツ read small; handwritten つ and っ differ only in size)."""


def _kana(ch: str) -> bool:
    return "\u3041" <= ch <= "\u3096" or "\u30a1" <= ch <= "\u30fa"


def _katakana(ch: str) -> bool:
    return "\u30a1" <= ch <= "\u30fa"


def apply_kana_grammar(
    chars: list[str], confidences: list[float], field_type: str | None
) -> tuple[list[str], list[float]]:
    """Fix what kana spelling forbids (kana fields; the katakana runs of free text).

    - Handwritten や and ゃ differ only in size and the recogniser often picks the small one:
      a small ゃゅょ after anything but an i-row kana becomes full size, and no word starts
      with a small kana. (composed_hw_fields_dev kana-line CER 10.7 % → 9.4 %.)
    - ー only follows a kana (not ッ/ン/ー): at a word start, at the name gap or doubled it
      is not writing — hiragana fields (names' readings) never hold it at all. In free text a
      ー after a kanji or at the start is the kanji 一 (一番町).
    - 一 or a hyphen between two katakana is ー (コ一ポ → コーポ).
    - In kana fields a small っ (ッ) at the end or before a vowel, n-, m-, y-, r-, w-row kana, ん
      or ー is つ (ツ): no doubled consonant stands there (マッモト → マツモト).

    Args:
        chars: normalised decoded characters, one per entry.
        confidences: one confidence per character.
        field_type: the field type.

    Returns:
        the corrected characters and their confidences (unchanged for other types).
    """
    if field_type not in ("hiragana", "katakana", "text", None):
        return chars, confidences
    kana_field = field_type in ("hiragana", "katakana")
    out: list[str] = []
    out_conf: list[float] = []
    for i, (ch, conf) in enumerate(zip(chars, confidences, strict=True)):
        prev = out[-1] if out else ""
        nxt = chars[i + 1] if i + 1 < len(chars) else ""
        if kana_field and ch in _LONG_DASHES:
            ch = "ー"
        if ch == "ー":
            if field_type == "hiragana" or (kana_field and (not _kana(prev) or prev in _NO_LONG_AFTER)):
                continue
            if not kana_field and not _kana(prev) and (not prev or not prev.isascii()):
                ch = "一"
        elif not kana_field and ch in _LONG_DASHES and _katakana(prev) and _katakana(nxt):
            ch = "ー"
        if (
            ch in _SMALL_ANY
            and (kana_field or _kana(nxt) or _kana(prev))
            and (not _kana(prev) or (ch in _SMALL_YA and prev not in _I_ROW))
        ) or (kana_field and ch in "っッ" and (not nxt or nxt in _NO_SOKUON_BEFORE)):
            ch = _SMALL_ANY[ch]
        out.append(ch)
        out_conf.append(conf)
    return out, out_conf


_DIGIT_LOOKALIKES = {
    "ノ": "1", "丿": "1", "l": "1", "I": "1", "i": "1", "|": "1", "/": "1",
    "s": "5", "S": "5", "Q": "2", "α": "2", "o": "0", "O": "0", "〇": "0", "q": "9", "g": "9",
    "a": "2", "z": "2", "Z": "2", "b": "6", "G": "6",
}
"""What PP-OCR makes of a handwritten digit it reads out of context (dev address errors; a looped 2
as ``a``, composed_hw_fields_dev 4-17-23 → 4-17-a3)."""
_HYPHEN_SET = set(_HYPHENS)
_NUMBER_WORDS = set("丁番号")


def _numeric(ch: str) -> bool:
    return ch.isascii() and ch.isdigit()


def apply_text_grammar(
    chars: list[str], confidences: list[float], field_type: str | None
) -> tuple[list[str], list[float]]:
    """House-number grammar for free-text fields (addresses carry most digits of a form).

    A digit look-alike (``ノ`` ``/`` ``s`` ``Q``...) next to a digit, or right before
    丁/番/号, is that digit; a dash look-alike between two digits is ``-``; a value made
    of nothing but dashes is a stray mark, not writing, and is dropped. A katakana beside
    kanji and no katakana that a kanji looks exactly like is that kanji (川ロ市 → 川口市), and the
    other way round.

    Args:
        chars: normalised decoded characters.
        confidences: one confidence per character.
        field_type: the field type (only ``text`` and None are changed).

    Returns:
        the corrected characters and their confidences.
    """
    if field_type not in ("text", None):
        return chars, confidences
    if chars and all(ch in _HYPHEN_SET for ch in chars):
        return [], []
    out = list(chars)
    # Two passes so that a run like ノノ丁目 (11丁目) resolves from the anchor outwards.
    for _ in range(2):
        for i, ch in enumerate(out):
            prev = out[i - 1] if i > 0 else ""
            nxt = out[i + 1] if i + 1 < len(out) else ""
            if ch in _DIGIT_LOOKALIKES and (
                _numeric(prev) or _numeric(nxt) or nxt in _NUMBER_WORDS or nxt == "-"
            ):
                out[i] = _DIGIT_LOOKALIKES[ch]
            elif ch in _HYPHEN_SET and ch != "-" and _numeric(prev) and _numeric(nxt):
                out[i] = "-"
    # A katakana drawn like a kanji (ロ 口, ニ 二, エ 工, カ 力, タ 夕, ハ 八, ト 卜) is whichever its
    # neighbours are: the glyphs are the same, the script around them decides (川ロ市 → 川口市).
    for i, ch in enumerate(out):
        near = [out[j] for j in (i - 1, i + 1) if 0 <= j < len(out)]
        if ch in _KANJI_TWINS and any(map(is_kanji, near)) and not any(map(is_katakana, near)):
            out[i] = _KANJI_TWINS[ch]
        elif ch in _KATAKANA_TWINS and any(map(is_katakana, near)) and not any(map(is_kanji, near)):
            out[i] = _KATAKANA_TWINS[ch]
    return out, list(confidences)


_KANJI_TWINS = {"ロ": "口", "ニ": "二", "エ": "工", "カ": "力", "タ": "夕", "ハ": "八", "ト": "卜"}
"""Katakana and the kanji drawn the same way."""
_KATAKANA_TWINS = {kanji: kana for kana, kanji in _KANJI_TWINS.items()}


def finish_text(raw: str, confs: list[float], field_type: str | None) -> tuple[str, list[float]]:
    """Decoded characters as stored: normalised, voicing marks merged, kana and text grammar applied.

    Returns:
        the text and one confidence per character of it.
    """
    pieces: list[str] = []
    out_confs: list[float] = []
    for ch, conf in zip(raw, confs, strict=True):
        if ch.isspace():
            continue
        norm = normalize_text(ch, field_type)
        if norm in ("\u3099", "\u309a", "") and pieces:
            # A stand-alone voicing mark merges into the previous kana; keep the weaker confidence.
            merged = normalize_text(pieces[-1] + ch, field_type)
            if len(merged) == 1:
                pieces[-1] = merged
                out_confs[-1] = min(out_confs[-1], conf)
            continue
        for piece in norm:
            pieces.append(piece)
            out_confs.append(conf)
    pieces, out_confs = apply_kana_grammar(pieces, out_confs, field_type)
    pieces, out_confs = apply_text_grammar(pieces, out_confs, field_type)
    return "".join(pieces), out_confs
