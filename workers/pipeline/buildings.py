"""Common words of building names as a soft prior for the katakana runs of an address.

An address ends in a building name more often than not (…3-7-4 グランドール203, メゾン緑403), and
those names are made of a small vocabulary (``data/building_words.txt``: ハイツ, コーポ, メゾン,
レジデンス…). A katakana run that splits into such words earns the place-name bonus per character,
so a close misreading (メソン, ソ 61 % and ゾ 29 %) gives way to the word; a run that is no such word
costs nothing. While a run is still being read, a run that can still become such words earns its
bonus (refunded when it does not), as for place names.
"""

from __future__ import annotations

import functools
from pathlib import Path

from workers.pipeline.lexicon import Lexicon, read_word_list, with_prefixes
from workers.pipeline.scripts import is_katakana

__all__ = ["building_bonus"]

_WORDS = Path(__file__).with_name("data") / "building_words.txt"


@functools.lru_cache(maxsize=1)
def _lexicon() -> Lexicon:
    return with_prefixes(read_word_list(_WORDS))


def _splits(run: str, *, open_end: bool) -> bool:
    """``run`` is a sequence of words (the last may be a word's beginning when ``open_end``)."""
    words, prefixes = _lexicon()
    ends = [False] * (len(run) + 1)
    ends[0] = True
    for i in range(len(run)):
        if ends[i]:
            for j in range(i + 1, len(run) + 1):
                if run[i:j] in words:
                    ends[j] = True
    if ends[len(run)]:
        return True
    return open_end and any(ends[i] and run[i:] in prefixes for i in range(len(run)))


def building_bonus(text: str, final: bool, *, per_char: float) -> float:
    """``per_char`` nats for every character of a katakana run (two or more) made of building words."""
    bonus = 0.0
    i = 0
    while i < len(text):
        if not is_katakana(text[i]):
            i += 1
            continue
        j = i
        while j < len(text) and is_katakana(text[j]):
            j += 1
        run = text[i:j]
        if len(run) >= 2 and _splits(run, open_end=j == len(text) and not final):
            bonus += per_char * len(run)
        i = j
    return bonus
