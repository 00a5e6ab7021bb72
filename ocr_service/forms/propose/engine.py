"""Propose every fillable area of a blank template: boxes, comb cells, check boxes, blanks, table cells.

Inputs are the page picture (rules, cells, squares: :mod:`.ruling`) and the
printed text (:mod:`.text`). The result is a list of :class:`Proposal` in PDF
points from the top-left, the same convention as the layout model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ocr_service.forms.propose.choices import circle_choices, is_era_list, is_option_list
from ocr_service.forms.propose.naming import ERAS, EXCLUSIVE_SETS, NameBook, guess_type, name_part
from ocr_service.forms.propose.ruling import Region, find_ruling, ink_fraction
from ocr_service.forms.propose.scene import (
    INSET_PT,
    LARGE_PRINT_PT,
    UNIT_LABELS,
    PageScene,
    contains,
    inset,
    iou,
    overlap_y,
    rounded,
)
from ocr_service.forms.propose.text import TextSpan

Box = tuple[float, float, float, float]

FORM_NUMBER = re.compile(r"様式\s*第?\s*[0-9０-９一二三四五六七八九十]+号|様式\s*[A-Z]{1,4}-?[0-9]{1,4}")
"""A printed form number: 様式第3号, 様式 NK-01."""


@dataclass(frozen=True)
class Proposal:
    """One proposed field; ``shape`` says how it was found (box, comb, checkbox, slot, underline)."""

    name: str
    label: str
    type: str
    box: Box
    shape: str
    page: int = 1
    cells: int = 0
    multiline: bool = False
    group: str = ""
    options: tuple[tuple[str, Box], ...] = ()
    """``choice`` fields: each printed option's value and box."""


@dataclass
class PageProposals:
    page: int
    fields: list[Proposal] = field(default_factory=list)
    exclusive_groups: list[list[str]] = field(default_factory=list)
    title: str = ""
    form_codes: list[str] = field(default_factory=list)
    """Printed form numbers (様式第3号, 様式 NK-01): identification hints."""
    snap_x: list[float] = field(default_factory=list)
    snap_y: list[float] = field(default_factory=list)
    """Printed rules (cell and square edges) the editor snaps box edges to."""


def _cell_fields(page: PageScene) -> list[tuple[str, Box, str]]:
    """(shape, box, own label) of empty ruled cells, cells beside a note, the part of a cell under a
    comb, and cells with their label printed in a corner (own label = that text, else "")."""
    found: list[tuple[str, Box, str]] = []
    for cell in page.cells:
        if cell.filled:
            continue
        spans = [s for s in page.spans if contains(cell.box, s.cx, s.cy)]
        marks = [b for b in page.checkboxes if contains(cell.box, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2)]
        combs = [c for c, _n in page.combs if contains(cell.box, (c[0] + c[2]) / 2, (c[1] + c[3]) / 2)]
        x0, y0, x1, y1 = cell.box
        if not spans and not marks and not combs:
            found.append(("box", inset(cell.box), ""))
        elif combs and not marks:
            below = max(c[3] for c in combs) + 2
            if y1 - below >= 14 and not any(s.cy > below for s in spans):
                found.append(("box", (x0 + INSET_PT, below + INSET_PT, x1 - INSET_PT, y1 - INSET_PT), ""))
        elif not marks and all(s.text[0] in "(（※" for s in spans):
            right = min(s.box[0] for s in spans) - 10
            if right - x0 >= 30:
                found.append(("box", (x0 + INSET_PT, y0 + INSET_PT, right, y1 - INSET_PT), ""))
        elif not marks and not combs and (area := _beside_corner_label(cell, spans)) is not None:
            found.append(("box", area, "".join(s.text for s in sorted(spans, key=lambda s: s.box[1]))))
    return found


def _beside_corner_label(cell: Region, spans: list[TextSpan]) -> Box | None:
    """The writing area of a cell that prints its own short label in its top-left corner (氏名 in the box).

    Below the label when the cell is tall enough, else right of it. A cell with a sentence, a unit,
    a note or options in it is not one of these.
    """
    x0, y0, x1, y1 = cell.box
    if len(spans) > 2 or any(
        len(s.text) > 10 or _unit_of(s) is not None or is_era_list(s.text) or is_option_list(s.text)
        for s in spans
    ):
        return None
    if any(s.text[0] in "(（※" or s.box[0] - x0 > 12 or s.box[1] - y0 > 0.6 * cell.height for s in spans):
        return None
    label_x1 = max(s.box[2] for s in spans)
    label_y1 = max(s.box[3] for s in spans)
    if label_x1 - x0 > 0.4 * cell.width:
        return None
    if y1 - label_y1 >= 16:
        return (x0 + INSET_PT, label_y1 + 1, x1 - INSET_PT, y1 - INSET_PT)
    if x1 - label_x1 >= 60:
        return (label_x1 + 4, y0 + INSET_PT, x1 - INSET_PT, y1 - INSET_PT)
    return None


def _unit_of(span: TextSpan) -> str | None:
    """The unit label when ``span`` is a printed unit after a blank (年, 月, 日生, 通, g ...)."""
    if span.text in UNIT_LABELS:
        return UNIT_LABELS[span.text]
    if len(span.text) <= 2 and span.text[0] in UNIT_LABELS:
        return UNIT_LABELS[span.text[0]]
    return None


def _unit_after(page: PageScene, box: Box) -> str | None:
    """A printed unit right after ``box`` on its line: the box takes a number (□年□月□日, □g)."""
    for span in page.spans:
        if 0 <= span.box[0] - box[2] <= 8 and overlap_y(span.box, box) > 0.5 * span.height:
            return _unit_of(span)
    return None


def _slot_fields(page: PageScene) -> list[tuple[Box, str, str]]:
    """(box, label, unit) of the blanks before printed units (＿年＿月＿日, ＿通, 第＿子)."""
    found: list[tuple[Box, str, str]] = []
    obstacles = [b for b in page.checkboxes] + [c for c, _n in page.combs]
    markers = [s for s in page.spans if _unit_of(s) is not None]
    skip = frozenset({s.text for s in markers} | set(ERAS))
    for marker in markers:
        cell = page.container(marker.cx, marker.cy)
        if cell is not None and cell.filled:
            continue
        limit = cell.box[0] if cell is not None else marker.box[0] - 80
        line = [
            s.box
            for s in page.spans
            if s is not marker and overlap_y(s.box, marker.box) > 0.3 * marker.height
        ]
        line += [b for b in obstacles if overlap_y(b, marker.box) > 0.3 * marker.height]
        lefts = [b[2] for b in line if limit <= b[2] <= marker.box[0] + 1]
        left = max(lefts, default=limit)
        if marker.box[0] - left < 12:
            continue
        x1 = marker.box[0] - 1.5
        x0 = left + 2 if lefts else max(left + 2, x1 - 4.2 * marker.height)
        if cell is not None and cell.height <= 45:
            y0, y1 = cell.box[1] + 2, cell.box[3] - 2
        else:
            y0, y1 = marker.cy - 0.83 * marker.height, marker.cy + 0.83 * marker.height
        box = (x0, y0, x1, y1)
        if ink_fraction(page.ruling, inset(box, 1.0)) > 0.01:
            continue
        before = [
            s
            for s in page.spans
            if s.text not in skip
            and not is_era_list(s.text)
            and limit <= s.box[0]
            and s.box[2] <= x0
            and overlap_y(s.box, marker.box) > 0
        ]
        if before:
            base = max(before, key=lambda s: s.box[2]).text
        else:
            base = page.left_label(cell.box if cell is not None else box, skip=skip)
        found.append((box, base, _unit_of(marker) or ""))
    return found


def _underline_fields(page: PageScene) -> list[Box]:
    """Write-on-the-line blanks: a free rule with nothing printed on it and its label just left of it.

    A table rule broken by a faint scan, or a rule under a heading, has no label beside its start.
    """
    found = []
    for x0, y0, x1, _y1 in page.ruling.underlines:
        box = (x0, y0 - 16, x1, y0 - 0.5)
        if page.container((x0 + x1) / 2, y0 - 8) is not None:
            continue
        if any(
            overlap_y(s.box, box) > 0.3 * s.height and s.box[0] < x1 and s.box[2] > x0 + 2 for s in page.spans
        ):
            continue
        labelled = any(
            overlap_y(s.box, box) > 0.3 * s.height and 0 <= x0 - s.box[2] <= 80 for s in page.spans
        )
        if labelled:
            found.append(box)
    return found


def _checkbox_fields(page: PageScene) -> tuple[list[tuple[Box, str, str, int]], set[int]]:
    """(box, option label, group label, group id) of every check box; ids of the option label spans."""
    option_of: dict[Box, TextSpan] = {}
    for box in page.checkboxes:
        # The option's printed name is the nearest text on the line, right of the square or left of it.
        near = [
            (gap, s)
            for s in page.spans
            if overlap_y(s.box, box) > 0.3 * s.height
            for gap in (s.box[0] - box[2], box[0] - s.box[2])
            if -1 <= gap <= 20
        ]
        if near:
            option_of[box] = min(near, key=lambda item: item[0])[1]
    options = {id(s) for s in option_of.values()}
    found: list[tuple[Box, str, str, int]] = []
    for box in page.checkboxes:
        option = option_of.get(box)
        cell = page.container((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        limit = cell.box[0] if cell is not None else box[0] - 200
        left = [
            s
            for s in page.spans
            if id(s) not in options
            and limit <= s.box[0]
            and s.box[2] <= box[0] + 1
            and overlap_y(s.box, box) > 0.3 * s.height
        ]
        if left:
            group = max(left, key=lambda s: s.box[2])
            label, gid = group.text, id(group)
        elif cell is not None:
            label, gid = page.left_label(cell.box), id(cell)
        else:
            label = page.left_label(box, skip=frozenset(s.text for s in option_of.values()))
            gid = hash(label)
        found.append((box, option.text if option else "", label, gid))
    return found, options


def propose_page(
    gray: np.ndarray,
    spans: list[TextSpan],
    *,
    px_per_pt: float,
    page: int,
    names: NameBook,
    from_ocr: bool = False,
) -> PageProposals:
    """Proposals for one page picture and its printed text.

    Text-layer spans are exact, so their glyphs are painted out before rules are searched. A text
    detector's boxes are loose and often take in the check box beside a label, so with OCR only
    large print (titles, whose strokes are as long as a short rule) is painted out.
    """
    painted = [s.box for s in spans if not from_ocr or s.height >= LARGE_PRINT_PT]
    ruling = find_ruling(gray, px_per_pt=px_per_pt, text_boxes=painted)
    found = PageScene(ruling, spans)
    result = PageProposals(page=page)
    if spans:
        result.title = max(spans, key=lambda s: s.height).text
    kept: list[Box] = []

    def add(proposal: Proposal) -> None:
        if any(iou(proposal.box, other) > 0.6 for other in kept):
            return
        kept.append(proposal.box)
        result.fields.append(proposal)

    for comb, cells in found.combs:
        label = found.left_label(comb)
        # 〒 (often too small for OCR), or seven cells first in an address cell: a postal code.
        if label.startswith("〒") or (cells == 7 and "住所" in label):
            label = "郵便番号"
        ftype = guess_type(label, shape="comb", cells=cells)
        add(
            Proposal(
                names.take(name_part(label), fallback="digits"),
                label or "番号",
                ftype,
                rounded(comb),
                "comb",
                page,
                cells,
            )
        )
    markers = frozenset(s.text for s in found.spans if _unit_of(s) is not None) | frozenset(ERAS)
    for shape, box, own_label in _cell_fields(found):
        unit = _unit_after(found, box)
        if unit is not None:
            base = found.left_label(box, skip=markers)
            label = f"{base}（{unit}）" if base else unit
            add(
                Proposal(
                    names.take(name_part(base), fallback="number"),
                    label,
                    "digits",
                    rounded(box),
                    "slot",
                    page,
                )
            )
            continue
        label = own_label or found.left_label(box)
        ftype = guess_type(label, shape="box")
        multiline = ftype == "text" and box[3] - box[1] >= 40
        add(
            Proposal(
                names.take(name_part(label), fallback="text"),
                label or "記入欄",
                ftype,
                rounded(box),
                shape,
                page,
                0,
                multiline,
            )
        )
    for box, base, unit in _slot_fields(found):
        label = f"{base}（{unit}）" if base else unit
        add(
            Proposal(
                names.take("_".join(filter(None, [name_part(base), name_part(unit[0])])), fallback="number"),
                label,
                "digits",
                rounded(box),
                "slot",
                page,
            )
        )
    for box in _underline_fields(found):
        label = found.left_label(box)
        add(
            Proposal(
                names.take(name_part(label), fallback="text"),
                label or "記入欄",
                guess_type(label, shape="box"),
                rounded(box),
                "underline",
                page,
            )
        )
    groups: dict[int, list[tuple[str, str]]] = {}
    checkboxes, option_labels = _checkbox_fields(found)
    for options, label in circle_choices(found, taken=option_labels):
        boxes = [b for _w, b in options]
        union = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        era = "元号" in label
        wanted = "_".join(filter(None, [name_part(label.removesuffix("（元号）")), "era" if era else ""]))
        add(
            Proposal(
                names.take(wanted, fallback="choice"),
                label or "選択",
                "choice",
                rounded(union),
                "choice",
                page,
                options=tuple((w, rounded(b)) for w, b in options),
            )
        )
    for box, option, group, gid in checkboxes:
        label = f"{group}：{option}" if group and option else (option or group or "チェック")
        number = re.match(r"\s*(\d+)", group)
        wanted = f"q{number.group(1)}" if number else name_part(group)
        wanted = "_".join(filter(None, [wanted, name_part(option)]))
        name = names.take(wanted, fallback="check")
        add(Proposal(name, label, "checkbox", rounded(box), "checkbox", page, group=group))
        groups.setdefault(gid, []).append((name, option))
    for members in groups.values():
        labels = frozenset(option for _n, option in members)
        if len(members) >= 2 and (labels in EXCLUSIVE_SETS or labels <= set(ERAS)):
            result.exclusive_groups.append([n for n, _o in members])
    result.snap_x, result.snap_y = found.rule_positions()
    for span in spans:
        if match := FORM_NUMBER.search(span.text):
            result.form_codes.append(match.group(0))
    result.fields.sort(key=lambda p: (round(p.box[1] / 6), p.box[0]))
    return result
