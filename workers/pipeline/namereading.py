"""Readings of written given names from a morphological dictionary (SudachiPy, offline).

The surname table (``data/surnames.tsv``) lists the readings of common surnames; given
names are far too many for a hand-kept table. SudachiPy's dictionary (``sudachidict_small``,
installed from PyPI with the wheel's data inside, Apache-2.0) has person-name entries with
their usual reading: 由美 → ユミ, 真由美 → マユミ, 悠真 → ユウマ, 陸 → リク. It gives one
reading per entry, the most common one, so it serves as a prior and a hint, never as the
truth: a name can be read differently (中田 なかだ or なかた), and the furigana the person
wrote decides when the model reads it clearly (see :mod:`workers.pipeline.furigana`).

The dictionary is opened once per process, on first use (it is memory-mapped: about 0.1 s
and a few MB); nothing here touches the network.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from typing import TYPE_CHECKING

from ocr_service.validation.kana import to_hiragana

if TYPE_CHECKING:
    from sudachipy import Tokenizer

__all__ = ["given_name_reading"]

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _tokenizer() -> Tokenizer | None:
    """The Sudachi tokenizer, or None when the package or its dictionary is missing."""
    try:
        from sudachipy import Dictionary
    except ImportError:  # pragma: no cover - a declared dependency; a stripped install reads on without it
        log.warning("sudachipy is not installed: given-name readings are off")
        return None
    try:
        return Dictionary(dict="small").tokenizer(mode="C")
    except Exception:  # pragma: no cover - the dictionary wheel is a declared dependency too
        log.warning("the Sudachi dictionary could not be opened: given-name readings are off", exc_info=True)
        return None


def _is_kana(text: str) -> bool:
    return bool(text) and all("\u3041" <= ch <= "\u309f" or ch == "ー" for ch in text)


def _is_name_character(ch: str) -> bool:
    return "\u3041" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0003134f" or ch in "々〆"


def _normalized(written: str) -> str:
    # NFKC turns the full-width space into a plain one.
    return unicodedata.normalize("NFKC", written).replace(" ", "")


@functools.lru_cache(maxsize=1024)
def given_name_reading(name: str, surname_length: int) -> str | None:
    """The reading of what follows the first ``surname_length`` characters of a full name.

    The whole name is analysed, so the dictionary sees a given name in its place (星野学:
    学 → まなぶ as a name, not がく as a word); when its word boundaries do not fall after
    the surname, the rest is analysed alone.

    Args:
        name: the written full name (spaces ignored).
        surname_length: characters of the surname at its start (0: read the whole text).
    """
    text = _normalized(name)
    tokenizer = _tokenizer()
    if len(text) <= surname_length or tokenizer is None or not all(_is_name_character(ch) for ch in text):
        # A digit or a Latin letter in a name is a misread (渡部さく5), not something to read out.
        return None
    consumed = 0
    pieces: list[str] = []
    for morpheme in tokenizer.tokenize(text):
        if consumed >= surname_length:
            pieces.append(morpheme.reading_form())
        consumed += len(morpheme.surface())
        if consumed > surname_length and not pieces:
            # The surname ends inside a word: analyse the given name on its own.
            pieces = [m.reading_form() for m in tokenizer.tokenize(text[surname_length:])]
            break
    hiragana = to_hiragana("".join(pieces))
    return hiragana if _is_kana(hiragana) else None
