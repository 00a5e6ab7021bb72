"""One page as the proposal engine sees it: cells, squares, combs, check boxes, printed text, label look-ups.

Coordinates are PDF points from the top-left.
"""

from __future__ import annotations

from ocr_service.forms.propose.ruling import Region, Ruling
from ocr_service.forms.propose.text import TextSpan

Box = tuple[float, float, float, float]

OFFICE_MARKERS = (
    "職員記入欄",
    "市記入欄",
    "町記入欄",
    "村記入欄",
    "区記入欄",
    "係記入欄",
    "記入しないで",
    "担当者記入欄",
    "事務処理欄",
    "記入不要",
    "処理欄",
    "職員使用欄",
)
"""Printed notes that start the office-use part of a form: nothing below them is proposed."""
UNIT_LABELS = {
    "年": "年",
    "月": "月",
    "日": "日",
    "通": "通数",
    "子": "番目",
    "週": "週",
    "枚": "枚数",
    "部": "部数",
    "歳": "歳",
    "才": "歳",
    "円": "円",
    "回": "回数",
    "件": "件数",
    "g": "g",
    "kg": "kg",
    "cm": "cm",
}
"""Printed units after a blank (令和＿年＿月＿日, ＿通): the blank before them takes a number."""
LARGE_PRINT_PT = 18.0
"""Printed text this tall has strokes as long as a short rule (titles)."""
CHECKBOX_MIN_PT = 14.5
"""Smallest read area of a check box (about 5 mm): a small printed square gets a margin, since ticks overshoot it."""
INSET_PT = 1.8
"""Field box inside a ruled cell: clear of the printed rule (its ink would read as a stroke)."""


def overlap_y(a: Box, b: Box) -> float:
    return max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def contains(outer: Box, x: float, y: float) -> bool:
    return outer[0] <= x <= outer[2] and outer[1] <= y <= outer[3]


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def inset(box: Box, d: float = INSET_PT) -> Box:
    return (box[0] + d, box[1] + d, box[2] - d, box[3] - d)


def rounded(box: Box) -> Box:
    x0, y0, x1, y1 = (round(v, 1) for v in box)
    return (x0, y0, x1, y1)


class PageScene:
    """Everything found on one page, with the label look-ups the proposals share."""

    def __init__(self, ruling: Ruling, spans: list[TextSpan]) -> None:
        cut = min((s.box[1] for s in spans if any(m in s.text for m in OFFICE_MARKERS)), default=1e9)
        self.ruling = ruling
        self.spans = [s for s in spans if s.box[1] < cut]
        regions = [r for r in ruling.regions if r.box[1] < cut]
        self.squares = [r for r in regions if self._is_square(r)]
        self.cells = [r for r in regions if r not in self.squares and r.width >= 12 and r.height >= 8]
        self.combs, self.checkboxes = self._group_squares()

    def _is_square(self, r: Region) -> bool:
        if r.filled or not (6 <= r.width <= 30 and 6 <= r.height <= 30 and 0.6 <= r.width / r.height <= 1.6):
            return False
        return not any(contains(r.box, s.cx, s.cy) for s in self.spans)

    def _group_squares(self) -> tuple[list[tuple[Box, int]], list[Box]]:
        rows: list[list[Region]] = []
        for sq in sorted(self.squares, key=lambda r: (round(r.box[1]), r.box[0])):
            last = rows[-1][-1] if rows else None
            if (
                last is not None
                and abs(sq.box[1] - last.box[1]) < 2
                and abs(sq.box[3] - last.box[3]) < 2
                and -1 <= sq.box[0] - last.box[2] < 3.5
            ):
                rows[-1].append(sq)
            else:
                rows.append([sq])
        combs: list[tuple[Box, int]] = []
        boxes: list[Box] = []
        for row in rows:
            if len(row) >= 2:
                combs.append(
                    (
                        (
                            row[0].box[0],
                            min(r.box[1] for r in row),
                            row[-1].box[2],
                            max(r.box[3] for r in row),
                        ),
                        len(row),
                    )
                )
            elif max(row[0].width, row[0].height) <= 22:
                # The read area takes in a margin around the printed square: ticks overshoot it.
                x0, y0, x1, y1 = row[0].box
                pad = max(0.0, (CHECKBOX_MIN_PT - max(x1 - x0, y1 - y0)) / 2)
                boxes.append((x0 - pad, y0 - pad, x1 + pad, y1 + pad))
        return combs, boxes

    def rule_positions(self) -> tuple[list[float], list[float]]:
        """x and y of every cell and square edge (the printed rules), to half a point."""
        boxes = [c.box for c in self.cells] + [sq.box for sq in self.squares]
        xs = sorted({round(v * 2) / 2 for b in boxes for v in (b[0], b[2])})
        ys = sorted({round(v * 2) / 2 for b in boxes for v in (b[1], b[3])})
        return xs, ys

    def container(self, x: float, y: float) -> Region | None:
        inside = [c for c in self.cells if contains(c.box, x, y)]
        return min(inside, key=lambda c: c.width * c.height) if inside else None

    def _same_column(self, span: TextSpan, box: Box) -> bool:
        """``span`` heads the table column ``box`` is in: its cell has the same left and right rules."""
        head = self.container(span.cx, span.cy)
        cell = self.container((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        if head is None or cell is None or head is cell:
            return False
        return abs(head.box[0] - cell.box[0]) < 4 and abs(head.box[2] - cell.box[2]) < 4

    def left_label(self, box: Box, *, skip: frozenset[str] = frozenset()) -> str:
        """The printed label left of ``box`` on its line (a label cell's lines joined), else the one above."""
        row = [
            s
            for s in self.spans
            if s.text not in skip
            and s.box[2] <= box[0] + 2
            and box[0] - s.box[2] < 400
            and overlap_y(s.box, box) > 0.3 * min(s.height, box[3] - box[1])
        ]
        if not row:
            above = [
                s
                for s in self.spans
                if s.text not in skip
                and s.box[3] <= box[1] + 1
                and box[1] - s.box[3] < 140
                and box[0] <= s.cx <= box[2]
                and (box[1] - s.box[3] < 20 or self._same_column(s, box))
            ]
            if above:
                return max(above, key=lambda s: s.box[3]).text
            cell = self.container((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            if cell is not None and cell.box[0] < box[0] - 4:
                return self.left_label(cell.box, skip=skip)  # a box inside a bigger cell: the cell's label
            return ""
        best = max(row, key=lambda s: s.box[2])
        region = self.container(best.cx, best.cy)
        if region is None or region.box[0] > box[0]:
            # A label set in two lines beside the box (出生時の／体重): right-aligned lines over the box's rows.
            lines = [
                s
                for s in self.spans
                if abs(s.box[2] - best.box[2]) < 3 and box[1] - 4 <= s.cy <= box[3] + 4 and s.text not in skip
            ]
            return "".join(s.text for s in sorted(lines, key=lambda s: s.box[1]))
        column = [s for s in self.spans if contains(region.box, s.cx, s.cy) and s.box[2] <= box[0] + 2]
        column.sort(key=lambda s: (round(s.box[1] / 4), s.box[0]))
        return "".join(s.text for s in column)
