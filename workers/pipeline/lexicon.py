"""Word lists for the decoder's priors: read from ``data/``, and held with every prefix of every word.

A prior matches a lexicon word while the text is still being read (a beam prefix), so each
lexicon is a pair ``(words, prefixes)``: place names, surname and given-name readings, building words.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["Lexicon", "read_word_list", "with_prefixes"]

Lexicon = tuple[frozenset[str], frozenset[str]]
"""``(words, prefixes)``: the words, and every non-empty prefix of each (the words included)."""


def read_word_list(path: Path) -> frozenset[str]:
    """The words of a list file: one a line, blank lines and ``#`` comments skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def with_prefixes(words: Iterable[str]) -> Lexicon:
    """``words`` as a lexicon: the words and all their prefixes."""
    names = frozenset(words)
    return names, frozenset(w[:i] for w in names for i in range(1, len(w) + 1))
