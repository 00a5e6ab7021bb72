"""Printed options to circle (男・女, 令和・平成・昭和, 有／無): proposed as one ``choice`` field each.

Options count as a choice only when the printed words form a known exclusive set (or are all
eras), so a line of ordinary text is never mistaken for one.
"""

from __future__ import annotations

import re

from ocr_service.forms.propose.naming import ERAS, EXCLUSIVE_SETS
from ocr_service.forms.propose.scene import PageScene, overlap_y
from ocr_service.forms.propose.text import TextSpan

Box = tuple[float, float, float, float]

OPTION_PAD_PT = 2.0
"""Room around a printed option for the writer's circle."""
_SEPARATORS = "・･·/／、,，\\s　"  # OCR reads the katakana middle dot as · (U+00B7) too
_SEPARATOR = re.compile(f"[{_SEPARATORS}]+")
_WORDS = frozenset().union(*EXCLUSIVE_SETS) | frozenset(ERAS)


def is_era_list(text: str) -> bool:
    """``令和・平成・昭和``: printed eras to circle (not a label)."""
    words = [w for w in _SEPARATOR.split(text) if w]
    return bool(words) and all(w in ERAS for w in words)


def is_option_list(text: str) -> bool:
    """``男・女``, ``有・無``, ``令和・平成``: printed options to circle."""
    return _is_set([w for w in _SEPARATOR.split(text) if w])


def _is_set(words: list[str]) -> bool:
    unique = frozenset(words)
    return len(words) >= 2 and len(unique) == len(words) and (unique in EXCLUSIVE_SETS or unique <= set(ERAS))


def _pad(box: Box) -> Box:
    return (box[0] - OPTION_PAD_PT, box[1] - OPTION_PAD_PT, box[2] + OPTION_PAD_PT, box[3] + OPTION_PAD_PT)


def _split_span(span: TextSpan) -> list[tuple[str, Box]]:
    """Each option word of a span like ``男・女`` with its box (characters taken as equally wide)."""
    width = (span.box[2] - span.box[0]) / max(len(span.text), 1)
    options = []
    for match in re.finditer(f"[^{_SEPARATORS}]+", span.text):
        x0 = span.box[0] + match.start() * width
        options.append((match.group(), (x0, span.box[1], x0 + len(match.group()) * width, span.box[3])))
    return options


def circle_choices(scene: PageScene, *, taken: set[int]) -> list[tuple[list[tuple[str, Box]], str]]:
    """(options with boxes, label) of every printed option set; ``taken``: ids of check-box labels."""
    spans = [
        s
        for s in scene.spans
        if id(s) not in taken
        and not ((cell := scene.container(s.cx, s.cy)) is not None and cell.filled)
        and not _beside_checkbox(scene, s)
    ]
    found: list[tuple[list[tuple[str, Box]], str]] = []
    used: set[int] = set()
    for span in spans:
        options = _split_span(span)
        if _is_set([word for word, _box in options]):
            found.append(([(w, _pad(b)) for w, b in options], _label(scene, options)))
            used.add(id(span))
    # Options printed as separate words on one line: はい　いいえ, 男 ・ 女.
    ordered = sorted((s for s in spans if id(s) not in used), key=lambda s: (round(s.cy / 4), s.box[0]))
    run: list[TextSpan] = []
    following: list[TextSpan | None] = [*ordered, None]  # None ends the last run
    for nxt in following:
        joins = (
            nxt is not None
            and run
            and overlap_y(nxt.box, run[-1].box) > 0.5 * nxt.height
            and 0 <= nxt.box[0] - run[-1].box[2] < 40
        )
        if nxt is not None and (_SEPARATOR.fullmatch(nxt.text) or nxt.text in _WORDS) and (joins or not run):
            run.append(nxt)
            continue
        options = [(s.text, s.box) for s in run if s.text in _WORDS]
        if _is_set([w for w, _b in options]):
            found.append(([(w, _pad(b)) for w, b in options], _label(scene, options)))
        run = [nxt] if nxt is not None and nxt.text in _WORDS else []
    return found


def _beside_checkbox(scene: PageScene, span: TextSpan) -> bool:
    """A word next to a printed □ labels that box (ticked, not circled)."""
    return any(
        overlap_y(box, span.box) > 0.3 * span.height
        and (-1 <= span.box[0] - box[2] <= 25 or -1 <= box[0] - span.box[2] <= 25)
        for box in scene.checkboxes
    )


def _label(scene: PageScene, options: list[tuple[str, Box]]) -> str:
    first = options[0][1]
    base = scene.left_label(first, skip=_WORDS)
    if all(word in ERAS for word, _box in options):
        return f"{base}（元号）" if base else "元号"
    return base
