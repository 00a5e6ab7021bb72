"""Draw the 乳幼児健康診査 問診票 template and write its layout, from one source of truth.

Run from anywhere::

    python form_definitions/nyuyoji_kenshin/make_template.py

It writes ``template.pdf`` (vector, IPAex fonts embedded as subsets) and
``form.yaml`` beside this script. Every field box is defined once, in
:func:`build_fields`, in PDF points with a TOP-LEFT origin (the product
convention); the drawing code converts to reportlab's bottom-left origin when
it strokes the boxes, so the template and the YAML cannot disagree.

While drawing, every printed string is recorded and checked against the field
boxes: a label that would fall inside a box (and end up in the OCR crop) makes
the script fail.

The city (東山市) and the form are fictitious.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reportlab.lib.colors import Color, black, white
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

HERE = Path(__file__).resolve().parent

PAGE_W = 595.28
PAGE_H = 841.89
MARGIN_L = 40.0
MARGIN_R = PAGE_W - 40.0

CODE = "nyuyoji_kenshin"
TITLE = "乳幼児健康診査 問診票"
VERSION = 2
FORM_NUMBER = "様式 NK-01"

GOTHIC = "IPAexGothic"
MINCHO = "IPAexMincho"
FONT_FILES: dict[str, tuple[str, ...]] = {
    GOTHIC: (
        "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
        "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
    ),
    MINCHO: (
        "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf",
        "/usr/share/fonts/truetype/ipaexfont-mincho/ipaexm.ttf",
    ),
}

# Geometry shared by several rows (points, top-left origin).
BOX_X = 120.0
"""Left edge of the main input column; labels are printed left of it."""
CHECK = 16.0
"""Side of a checkbox square."""
POSTAL_CELL = 24.0
POSTAL_CELLS = 7
QUESTION_TOP = 462.0
QUESTION_ROW = 26.0
YES_X = 430.0
NO_X = 490.0

QUESTIONS: tuple[str, ...] = (
    "ひとりで上手に歩けますか。",
    "意味のある言葉（ママ、ブーブーなど）をいくつか話しますか。",
    "名前を呼ぶと振り向きますか。",
    "夜はよく眠れていますか。",
    "予防接種は予定どおり受けていますか。",
    "育児について不安や悩みがありますか。",
)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FieldDef:
    """One field: the same object drives the drawing and the YAML entry."""

    name: str
    label: str
    box: Box
    """x0, y0, x1, y1 in points, top-left origin."""
    type: str = "text"
    cells: int = 0
    required: bool = False
    multiline: bool = False
    csv_column: str | None = None
    rules: dict[str, Any] | None = None
    """Validation rules (see form_definitions/README.md, *Validation rules*)."""


def _check_box(name: str, label: str, x: float, top: float, csv_column: str) -> FieldDef:
    return FieldDef(name, label, (x, top, x + CHECK, top + CHECK), "checkbox", csv_column=csv_column)


def question_top(index: int) -> float:
    """Top of the row of question ``index`` (0-based)."""
    return QUESTION_TOP + index * QUESTION_ROW


def build_fields() -> list[FieldDef]:
    """All fields of the form, in reading order. The single source of truth for boxes."""
    fields: list[FieldDef] = [
        FieldDef(
            "entry_date",
            "記入日",
            (400.0, 90.0, MARGIN_R, 116.0),
            "date",
            csv_column="記入日",
            rules={"eras": ["令和"], "not_future": True},
        ),
        # 1. お子さんについて
        FieldDef(
            "child_furigana",
            "ふりがな",
            (BOX_X, 152.0, 400.0, 174.0),
            "hiragana",
            required=True,
            csv_column="ふりがな",
        ),
        FieldDef(
            "child_name",
            "お子さんの氏名",
            (BOX_X, 178.0, 400.0, 210.0),
            "text",
            required=True,
            csv_column="氏名",
        ),
        _check_box("sex_male", "性別：男", 445.0, 186.0, "性別_男"),
        _check_box("sex_female", "性別：女", 495.0, 186.0, "性別_女"),
        _check_box("birth_era_reiwa", "生年月日：令和", BOX_X, 226.0, "生年月日_令和"),
        _check_box("birth_era_heisei", "生年月日：平成", 172.0, 226.0, "生年月日_平成"),
        FieldDef(
            "birth_year",
            "生年月日：年",
            (224.0, 220.0, 264.0, 248.0),
            "digits",
            required=True,
            csv_column="生年月日_年",
            rules={"min_value": 1, "max_value": 31},
        ),
        FieldDef(
            "birth_month",
            "生年月日：月",
            (284.0, 220.0, 324.0, 248.0),
            "digits",
            required=True,
            csv_column="生年月日_月",
            rules={"min_value": 1, "max_value": 12},
        ),
        FieldDef(
            "birth_day",
            "生年月日：日",
            (344.0, 220.0, 384.0, 248.0),
            "digits",
            required=True,
            csv_column="生年月日_日",
            rules={"min_value": 1, "max_value": 31},
        ),
        FieldDef(
            "birth_weight_g",
            "出生時の体重（g）",
            (470.0, 220.0, 530.0, 248.0),
            "digits",
            csv_column="出生時体重_g",
            rules={"min_value": 300, "max_value": 6000},
        ),
        # 2. 保護者・連絡先
        FieldDef(
            "guardian_name",
            "保護者の氏名",
            (BOX_X, 288.0, 400.0, 318.0),
            "text",
            required=True,
            csv_column="保護者氏名",
        ),
        FieldDef(
            "postal_code",
            "郵便番号",
            (140.0, 326.0, 140.0 + POSTAL_CELL * POSTAL_CELLS, 350.0),
            "postal",
            cells=POSTAL_CELLS,
            csv_column="郵便番号",
        ),
        FieldDef(
            "address", "住所", (BOX_X, 358.0, MARGIN_R, 388.0), "text", required=True, csv_column="住所"
        ),
        FieldDef(
            "phone", "電話番号", (BOX_X, 396.0, 330.0, 422.0), "phone", required=True, csv_column="電話番号"
        ),
    ]
    # 3. 質問 (はい / いいえ)
    for index, question in enumerate(QUESTIONS):
        number = index + 1
        top = question_top(index) + (QUESTION_ROW - CHECK) / 2
        short = question.rstrip("。")
        fields.append(
            _check_box(f"q{number}_yes", f"質問{number} {short}：はい", YES_X, top, f"質問{number}_はい")
        )
        fields.append(
            _check_box(f"q{number}_no", f"質問{number} {short}：いいえ", NO_X, top, f"質問{number}_いいえ")
        )
    # 4. 相談したいこと
    fields.append(
        FieldDef(
            "concerns",
            "相談したいこと・気になること",
            (MARGIN_L, 656.0, MARGIN_R, 756.0),
            "text",
            multiline=True,
            csv_column="相談したいこと",
        )
    )
    return fields


def cross_field_rules() -> list[dict[str, Any]]:
    """Rules across fields: one tick per pair (性別, 元号, each question's はい/いいえ)."""
    pairs = [("sex_male", "sex_female"), ("birth_era_reiwa", "birth_era_heisei")]
    pairs += [(f"q{n}_yes", f"q{n}_no") for n in range(1, len(QUESTIONS) + 1)]
    return [{"kind": "at_most_one", "fields": list(pair)} for pair in pairs]


def personal_category(name: str) -> str | None:
    """Personal-data category of a field (counted in the usage report to the privacy council)."""
    if name in ("child_name", "child_furigana", "guardian_name"):
        return "氏名"
    if name in ("address", "postal_code"):
        return "住所"
    if name.startswith("birth_") and name != "birth_weight_g":
        return "生年月日"
    if name == "phone":
        return "電話"
    if name.startswith("sex_"):
        return "性別"
    if name.startswith("q") or name in ("concerns", "birth_weight_g"):
        return "健康"
    return None


def layout_mapping(fields: Sequence[FieldDef] | None = None) -> dict[str, Any]:
    """The ``form.yaml`` content as a mapping (product schema, see form_definitions/README.md)."""
    specs = build_fields() if fields is None else list(fields)
    return {
        "code": CODE,
        "title": TITLE,
        "version": VERSION,
        "page_size_pt": [PAGE_W, PAGE_H],
        "pages": 1,
        "template": "template.pdf",
        "identification": {"form_codes": [FORM_NUMBER], "titles": [TITLE]},
        "cross_field_rules": cross_field_rules(),
        "fields": [
            {
                "name": f.name,
                "label": f.label,
                "box": [round(v, 2) for v in f.box],
                "type": f.type,
                "page": 1,
                "cells": f.cells,
                "multiline": f.multiline,
                "required": f.required,
                "csv_column": f.csv_column,
                "rules": f.rules,
                "category": personal_category(f.name),
            }
            for f in specs
        ],
    }


_PLAIN = re.compile(r"^[a-z][a-z0-9_.]*$")
_YAML_KEYWORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})


def _scalar(value: Any) -> str:
    # JSON scalars are valid YAML flow scalars; ensure_ascii=False keeps Japanese readable.
    if isinstance(value, str) and _PLAIN.match(value) and value not in _YAML_KEYWORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def render_yaml(mapping: dict[str, Any]) -> str:
    """Serialise the layout deterministically (stable key order, boxes on one line)."""
    lines = [
        "# yaml-language-server: $schema=../schema/form.schema.json",
        "# GENERATED by make_template.py from the same coordinates that draw template.pdf.",
        "# Do not edit by hand: change make_template.py and run it again.",
        "# Coordinates: PDF points (1/72 in), origin at the TOP-LEFT of the page.",
    ]
    for key in ("code", "title", "version", "page_size_pt", "pages", "template", "identification"):
        lines.append(f"{key}: {_scalar(mapping[key])}")
    lines.append("cross_field_rules:")
    lines.extend(f"  - {_scalar(rule)}" for rule in mapping["cross_field_rules"])
    lines.append("fields:")
    for spec in mapping["fields"]:
        first = True
        for key, value in spec.items():
            if value is None:
                continue
            prefix = "  - " if first else "    "
            first = False
            lines.append(f"{prefix}{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- drawing


def _register_fonts() -> None:
    for font_name, candidates in FONT_FILES.items():
        if font_name in pdfmetrics.getRegisteredFontNames():
            continue
        path = next((p for p in candidates if Path(p).is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"font {font_name} not found (tried {', '.join(candidates)}); install fonts-ipaexfont"
            )
        pdfmetrics.registerFont(TTFont(font_name, path))


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@dataclass
class Sheet:
    """A reportlab canvas that takes top-left coordinates and records where text was printed."""

    pdf: Any
    text_boxes: list[tuple[str, Box]] = field(default_factory=list)

    @staticmethod
    def y(top: float) -> float:
        return PAGE_H - top

    def text(
        self,
        x: float,
        baseline: float,
        s: str,
        *,
        font: str = GOTHIC,
        size: float = 10.0,
        align: str = "left",
        color: Color = black,
    ) -> Box:
        width = pdfmetrics.stringWidth(s, font, size)
        if align == "right":
            x -= width
        elif align == "center":
            x -= width / 2
        self.pdf.setFillColor(color)
        self.pdf.setFont(font, size)
        self.pdf.drawString(x, self.y(baseline), s)
        box = (x, baseline - 0.88 * size, x + width, baseline + 0.12 * size)
        self.text_boxes.append((s, box))
        return box

    def label_left(self, box: Box, s: str, *, gap: float = 6.0, size: float = 10.0) -> None:
        """Print ``s`` right-aligned just left of ``box``, vertically centred on it."""
        baseline = (box[1] + box[3]) / 2 + 0.38 * size
        self.text(box[0] - gap, baseline, s, size=size, align="right")

    def label_right(self, box: Box, s: str, *, gap: float = 4.0, size: float = 10.0) -> None:
        baseline = (box[1] + box[3]) / 2 + 0.38 * size
        self.text(box[2] + gap, baseline, s, size=size)

    def rect(self, box: Box, *, width: float = 1.0, fill: Color | None = None, stroke: bool = True) -> None:
        x0, y0, x1, y1 = box
        self.pdf.setLineWidth(width)
        self.pdf.setStrokeColor(black)
        if fill is not None:
            self.pdf.setFillColor(fill)
        self.pdf.rect(
            x0, self.y(y1), x1 - x0, y1 - y0, stroke=1 if stroke else 0, fill=0 if fill is None else 1
        )

    def line(
        self, x0: float, y0: float, x1: float, y1: float, *, width: float = 0.6, color: Color = black
    ) -> None:
        self.pdf.setLineWidth(width)
        self.pdf.setStrokeColor(color)
        self.pdf.line(x0, self.y(y0), x1, self.y(y1))


def _draw_field_box(sheet: Sheet, f: FieldDef) -> None:
    if f.type == "checkbox":
        sheet.rect(f.box, width=0.9)
        return
    sheet.rect(f.box, width=1.3)
    if f.cells > 1:
        x0, y0, x1, y1 = f.box
        step = (x1 - x0) / f.cells
        for i in range(1, f.cells):
            sheet.line(x0 + i * step, y0, x0 + i * step, y1, width=0.5)
        if f.type == "postal" and f.cells == 7:
            # The printed hyphen sits ON the 3|4 cell boundary so that the cells stay equal
            # (the pipeline divides a comb box into `cells` equal parts).
            mid_x = x0 + 3 * step
            mid_y = (y0 + y1) / 2
            sheet.line(mid_x - 3.0, mid_y, mid_x + 3.0, mid_y, width=1.4)


def _section(sheet: Sheet, top: float, heading: str) -> None:
    sheet.rect((MARGIN_L, top, MARGIN_R, top + 18.0), width=0.6, fill=Color(0.86, 0.86, 0.86))
    sheet.rect(
        (MARGIN_L, top, MARGIN_L + 5.0, top + 18.0), width=0.0, fill=Color(0.2, 0.2, 0.2), stroke=False
    )
    sheet.text(MARGIN_L + 10.0, top + 13.5, heading, size=11.0)


def draw(sheet: Sheet, fields: Sequence[FieldDef]) -> None:
    """Draw the whole page; field boxes come from ``fields`` and nowhere else."""
    by_name = {f.name: f for f in fields}
    pale = Color(0.45, 0.45, 0.45)

    # Header: issuer, form number, title band with a round emblem.
    sheet.text(MARGIN_L, 34.0, "東山市 健康福祉部 こども家庭課", size=9.0)
    sheet.rect((478.0, 22.0, MARGIN_R, 40.0), width=0.8)
    sheet.text((478.0 + MARGIN_R) / 2, 35.5, FORM_NUMBER, size=9.5, align="center")
    band = (MARGIN_L, 46.0, MARGIN_R, 84.0)
    sheet.rect(band, width=0.0, fill=Color(0.16, 0.2, 0.28), stroke=False)
    sheet.pdf.setFillColor(white)
    sheet.pdf.setStrokeColor(white)
    sheet.pdf.setLineWidth(1.5)
    sheet.pdf.circle(MARGIN_L + 24.0, sheet.y(65.0), 13.0, stroke=1, fill=0)
    sheet.text(MARGIN_L + 24.0, 70.5, "東", size=14.0, align="center", color=white)
    sheet.text(PAGE_W / 2, 72.0, TITLE, size=20.0, align="center", color=white)
    sheet.text(MARGIN_R - 8.0, 72.0, "1歳6か月児", size=9.0, align="right", color=white)
    sheet.text(
        MARGIN_L, 106.0, "※ 太枠の中を、黒のボールペンではっきりと記入してください。", font=MINCHO, size=8.5
    )
    sheet.label_left(by_name["entry_date"].box, "記入日", size=9.0)

    # 1. お子さんについて
    _section(sheet, 126.0, "1. お子さんについて")
    sheet.label_left(by_name["child_furigana"].box, "ふりがな", size=9.0)
    sheet.label_left(by_name["child_name"].box, "お子さんの氏名")
    sheet.text(418.0, by_name["sex_male"].box[1] + 12.0, "性別", size=10.0)
    sheet.label_right(by_name["sex_male"].box, "男")
    sheet.label_right(by_name["sex_female"].box, "女")
    sheet.label_left(by_name["birth_era_reiwa"].box, "生年月日")
    sheet.label_right(by_name["birth_era_reiwa"].box, "令和")
    sheet.label_right(by_name["birth_era_heisei"].box, "平成")
    sheet.label_right(by_name["birth_year"].box, "年")
    sheet.label_right(by_name["birth_month"].box, "月")
    sheet.label_right(by_name["birth_day"].box, "日")
    weight = by_name["birth_weight_g"].box
    sheet.text(weight[0] - 4.0, (weight[1] + weight[3]) / 2 - 2.0, "出生時の", size=9.0, align="right")
    sheet.text(weight[0] - 4.0, (weight[1] + weight[3]) / 2 + 9.0, "体重", size=9.0, align="right")
    sheet.label_right(weight, "g")

    # 2. 保護者・連絡先
    _section(sheet, 262.0, "2. 保護者・連絡先")
    sheet.label_left(by_name["guardian_name"].box, "保護者の氏名")
    postal = by_name["postal_code"].box
    sheet.text(
        MARGIN_L + 70.0 + 10.0, (postal[1] + postal[3]) / 2 + 3.8, "郵便番号", size=10.0, align="right"
    )
    sheet.label_left(postal, "〒", size=12.0, gap=4.0)
    sheet.label_left(by_name["address"].box, "住所")
    sheet.label_left(by_name["phone"].box, "電話番号")
    sheet.label_right(by_name["phone"].box, "（日中に連絡のつく番号）", gap=8.0, size=8.5)

    # 3. 質問
    _section(sheet, 436.0, "3. 健診前の質問（あてはまる方の□にレ印をつけてください）")
    for index, question in enumerate(QUESTIONS):
        top = question_top(index)
        number = index + 1
        sheet.text(MARGIN_L + 6.0, top + QUESTION_ROW / 2 + 3.8, f"問{number}", size=10.0)
        sheet.text(MARGIN_L + 32.0, top + QUESTION_ROW / 2 + 3.8, question, font=MINCHO, size=10.0)
        sheet.label_right(by_name[f"q{number}_yes"].box, "はい")
        sheet.label_right(by_name[f"q{number}_no"].box, "いいえ")
        sheet.line(MARGIN_L, top + QUESTION_ROW, MARGIN_R, top + QUESTION_ROW, width=0.4, color=pale)
    sheet.line(
        YES_X - 12.0, question_top(0), YES_X - 12.0, question_top(len(QUESTIONS)), width=0.4, color=pale
    )

    # 4. 相談したいこと
    _section(sheet, 630.0, "4. 相談したいこと・気になること（自由にお書きください）")

    # Footer: staff-only area (not a field) and contact line.
    staff_top = 768.0
    sheet.text(MARGIN_L, staff_top + 12.0, "【市記入欄】", size=9.0)
    for i, head in enumerate(("受付番号", "保健師", "栄養士", "歯科")):
        x0 = 330.0 + i * 56.25
        sheet.rect((x0, staff_top, x0 + 56.25, staff_top + 14.0), width=0.6, fill=Color(0.93, 0.93, 0.93))
        sheet.text(x0 + 28.125, staff_top + 10.5, head, size=8.0, align="center")
        sheet.rect((x0, staff_top + 14.0, x0 + 56.25, staff_top + 40.0), width=0.6)
    sheet.text(
        MARGIN_L,
        800.0,
        "問い合わせ先：東山市 こども家庭課 母子保健係　電話 0123-45-6789",
        font=MINCHO,
        size=8.0,
    )
    sheet.text(MARGIN_L, 822.0, f"{FORM_NUMBER}（令和7年4月改訂）", size=7.5, color=pale)
    sheet.text(MARGIN_R, 822.0, "東山市", size=7.5, align="right", color=pale)

    for f in fields:
        _draw_field_box(sheet, f)


def check_labels_outside(sheet: Sheet, fields: Sequence[FieldDef]) -> None:
    """Fail if any printed string intrudes into a field box (it would land in the OCR crop)."""
    problems = [
        f"'{text}' at {[round(v, 1) for v in tbox]} overlaps field '{f.name}'"
        for text, tbox in sheet.text_boxes
        for f in fields
        if _overlaps(tbox, f.box)
    ]
    if problems:
        raise ValueError("printed text inside field boxes: " + "; ".join(problems))


def make_pdf(fields: Sequence[FieldDef] | None = None) -> bytes:
    """Draw the template; deterministic bytes (reportlab invariant mode)."""
    specs = build_fields() if fields is None else list(fields)
    _register_fonts()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(PAGE_W, PAGE_H), invariant=1, pageCompression=1)
    pdf.setTitle(f"{TITLE}（{FORM_NUMBER}）")
    pdf.setAuthor("東山市（架空）")
    pdf.setSubject(f"{CODE} version {VERSION}")
    sheet = Sheet(pdf)
    draw(sheet, specs)
    check_labels_outside(sheet, specs)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out_dir = Path(args[0]) if args else HERE
    out_dir.mkdir(parents=True, exist_ok=True)
    fields = build_fields()
    (out_dir / "template.pdf").write_bytes(make_pdf(fields))
    (out_dir / "form.yaml").write_text(render_yaml(layout_mapping(fields)), encoding="utf-8")
    print(f"wrote {out_dir / 'template.pdf'} and {out_dir / 'form.yaml'} ({len(fields)} fields)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
