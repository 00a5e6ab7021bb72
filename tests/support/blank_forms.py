"""Two blank forms of designs unlike the evaluation layouts, with their true fields (eval format).

Used to score ``forms propose`` on layouts it was not tuned on:

* ``tennyu_todoke`` — written-on-the-line blanks (no boxes), a 12-cell 個人番号 comb,
  a 7-cell 口座番号 comb, check boxes whose labels stand left of the square, a date
  row 令和＿年＿月＿日 inside a ruled box.
* ``setai_ichiran`` — a table of household members: a header row (氏名・フリガナ・
  続柄・生年月日) over four empty rows, plus a postal comb and a phone box.

Coordinates: PDF points, origin top-left (the product convention).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

W, H = 595.28, 841.89
FONT = "IPAexGothic"
_FONT_FILE = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"


@dataclass
class _Sheet:
    code: str
    title: str
    fields: list[dict[str, Any]] = field(default_factory=list)
    buffer: io.BytesIO = field(default_factory=io.BytesIO)

    def __post_init__(self) -> None:
        if FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(FONT, _FONT_FILE))
        self.c = canvas.Canvas(self.buffer, pagesize=(W, H), invariant=1)
        self.c.setLineWidth(0.6)
        self.text(W / 2 - len(self.title) * 8, 60, self.title, 16)

    def text(self, x: float, y_top: float, s: str, size: float = 9) -> None:
        self.c.setFont(FONT, size)
        self.c.drawString(x, H - y_top - 0.88 * size, s)

    def rect(self, x0: float, y0: float, x1: float, y1: float, *, tint: bool = False) -> None:
        if tint:
            self.c.setFillGray(0.9)
        self.c.rect(x0, H - y1, x1 - x0, y1 - y0, stroke=1, fill=1 if tint else 0)
        self.c.setFillGray(0)

    def line(self, x0: float, y: float, x1: float) -> None:
        self.c.line(x0, H - y, x1, H - y)

    def field(
        self, name: str, label: str, box: tuple[float, float, float, float], kind: str, cells: int = 0
    ) -> None:
        self.fields.append({"name": name, "label": label, "bbox_pt": list(box), "type": kind, "cells": cells})

    def comb(self, name: str, label: str, x0: float, y0: float, n: int, kind: str = "digits") -> float:
        side = 16.0
        for i in range(n):
            self.rect(x0 + i * side, y0, x0 + (i + 1) * side, y0 + 18)
        self.field(name, label, (x0, y0, x0 + n * side, y0 + 18), kind, n)
        return x0 + n * side

    def checkbox_left_label(self, name: str, label: str, x: float, y: float, option: str) -> float:
        self.text(x, y + 2, option)
        bx = x + len(option) * 9 + 4
        self.rect(bx, y + 1, bx + 10, y + 11)
        self.field(name, f"{label}：{option}", (bx - 4.5, y - 3.5, bx + 14.5, y + 15.5), "checkbox")
        return bx + 24

    def finish(self) -> tuple[bytes, dict[str, Any]]:
        self.c.showPage()
        self.c.save()
        truth = {"layout": self.code, "title": self.title, "page_size_pt": [W, H], "fields": self.fields}
        return self.buffer.getvalue(), truth


def tennyu_todoke() -> tuple[bytes, dict[str, Any]]:
    """転入届 style: underlines, combs, left-labelled check boxes, a date in a ruled box."""
    s = _Sheet("tennyu_todoke", "転入届（試作様式）")
    s.rect(40, 100, 555, 130)
    s.text(50, 110, "届出日")
    s.text(120, 110, "令和")
    for unit, unit_x in (("年", 180), ("月", 230), ("日", 280)):
        s.text(unit_x, 110, unit)
    s.field("notify_year", "届出日（年）", (141, 106, 178, 121), "digits")
    s.field("notify_month", "届出日（月）", (191, 106, 228, 121), "digits")
    s.field("notify_day", "届出日（日）", (241, 106, 278, 121), "digits")
    rows = (
        ("name_kana", "フリガナ", "katakana"),
        ("name", "氏名", "text"),
        ("new_address", "新しい住所", "text"),
        ("old_address", "前の住所", "text"),
        ("birth", "生年月日", "date"),
        ("phone", "電話番号", "phone"),
    )
    y = 160.0
    for name, label, kind in rows:
        s.text(50, y - 12, label)
        s.line(130, y, 540)
        s.field(name, label, (130, y - 16, 540, y - 0.5), kind)
        y += 32
    s.text(50, y + 3, "個人番号")
    s.comb("my_number", "個人番号", 130, y, 12)
    y += 40
    s.text(50, y + 3, "口座番号")
    s.comb("account", "口座番号", 130, y, 7)
    y += 40
    x = 50.0
    s.text(50, y - 14, "届出人")
    for name, option in (("by_self", "本人"), ("by_family", "世帯主"), ("by_agent", "代理人")):
        x = s.checkbox_left_label(name, "届出人", x, y, option)
    s.text(50, 760, "※以下は職員記入欄")
    s.rect(40, 775, 555, 820)
    return s.finish()


def setai_ichiran() -> tuple[bytes, dict[str, Any]]:
    """世帯員一覧: a header row over empty table rows, a postal comb, a phone box."""
    s = _Sheet("setai_ichiran", "世帯員一覧表")
    s.rect(40, 100, 120, 124, tint=True)
    s.text(52, 108, "郵便番号")
    s.rect(120, 100, 555, 124)
    s.text(126, 108, "〒")
    s.comb("postal", "郵便番号", 140, 103, 7, "postal")
    s.rect(40, 124, 120, 150, tint=True)
    s.text(52, 133, "住所")
    s.rect(120, 124, 555, 150)
    s.field("address", "住所", (121.8, 125.8, 553.2, 148.2), "text")
    columns = (
        ("氏名", 40, 200, "text"),
        ("フリガナ", 200, 360, "katakana"),
        ("続柄", 360, 430, "text"),
        ("生年月日", 430, 555, "date"),
    )
    top = 170.0
    for label, x0, x1, _kind in columns:
        s.rect(x0, top, x1, top + 18, tint=True)
        s.text(x0 + 6, top + 5, label)
    for row in range(4):
        y0 = top + 18 + row * 26
        for label, x0, x1, kind in columns:
            s.rect(x0, y0, x1, y0 + 26)
            key = {"氏名": "name", "フリガナ": "kana", "続柄": "relation", "生年月日": "birth"}[label]
            s.field(
                f"member{row + 1}_{key}",
                f"{label}（{row + 1}）",
                (x0 + 1.8, y0 + 1.8, x1 - 1.8, y0 + 24.2),
                kind,
            )
    y = top + 18 + 4 * 26 + 20
    s.rect(40, y, 120, y + 24, tint=True)
    s.text(48, y + 8, "電話番号")
    s.rect(120, y, 340, y + 24)
    s.field("phone", "電話番号", (121.8, y + 1.8, 338.2, y + 22.2), "phone")
    return s.finish()


BLANK_FORMS = {"tennyu_todoke": tennyu_todoke, "setai_ichiran": setai_ichiran}


def kenshin_yoyaku() -> tuple[bytes, dict[str, Any]]:
    """健診予約票, two pages: options printed to circle (男・女, 令和・平成・昭和 with 年月日 blanks,
    有・無, はい　いいえ as separate words) in ruled rows; page 2 holds a remarks box and a phone box."""
    s = _Sheet("kenshin_yoyaku", "特定健診 予約票")

    def row(y0: float, y1: float, label: str) -> None:
        s.rect(40, y0, 130, y1, tint=True)
        s.text(48, (y0 + y1) / 2 - 4.5, label)
        s.rect(130, y0, 555, y1)

    def option(name: str, label: str, y: float, words: list[tuple[str, float]], kind: str = "choice") -> None:
        for word, x in words:
            s.text(x, y, word)
        boxes = [(x - 2, y - 2, x + 9 * len(w) + 2, y + 9 + 2) for w, x in words]
        union = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        s.field(name, label, union, kind)

    row(100, 128, "氏名")
    s.field("name", "氏名", (131.8, 101.8, 553.2, 126.2), "text")
    row(128, 152, "性別")
    s.text(140, 136, "男・女")
    s.field("sex", "性別", (138, 134, 169, 147), "choice")
    row(152, 180, "生年月日")
    s.text(140, 161, "令和・平成・昭和")
    s.field("birth_era", "生年月日（元号）", (138, 159, 214, 172), "choice")
    for unit, x, name in (("年", 260, "birth_year"), ("月", 310, "birth_month"), ("日", 360, "birth_day")):
        s.text(x, 161, unit)
        s.field(name, f"生年月日（{unit}）", (x - 38.5, 154, x - 1.5, 178), "digits")
    row(180, 204, "食物アレルギー")
    s.text(140, 188, "有・無")
    s.field("allergy", "食物アレルギー", (138, 186, 169, 199), "choice")
    row(204, 228, "服薬中")
    option("medication", "服薬中", 212, [("はい", 140), ("いいえ", 180)])
    s.c.showPage()
    s.text(W / 2 - 40, 60, "（裏面）", 12)
    s.rect(40, 100, 130, 200, tint=True)
    s.text(48, 146, "備考")
    s.rect(130, 100, 555, 200)
    s.fields.append(
        {
            "name": "remarks",
            "label": "備考",
            "bbox_pt": [131.8, 101.8, 553.2, 198.2],
            "type": "text",
            "cells": 0,
            "page": 2,
        }
    )
    s.rect(40, 200, 130, 224, tint=True)
    s.text(48, 208, "連絡先電話")
    s.rect(130, 200, 330, 224)
    s.fields.append(
        {
            "name": "phone",
            "label": "連絡先電話",
            "bbox_pt": [131.8, 201.8, 328.2, 222.2],
            "type": "phone",
            "cells": 0,
            "page": 2,
        }
    )
    return s.finish()


BLANK_FORMS["kenshin_yoyaku"] = kenshin_yoyaku


def kokuho_shutoku() -> tuple[bytes, dict[str, Any]]:
    """国民健康保険 資格取得届: labels printed small inside each box's top-left corner (no label
    cells), two boxes side by side, short boxes with the label at their left, check boxes, and an
    office-use table below a note."""
    s = _Sheet("kokuho_shutoku", "国民健康保険 資格取得届")

    def boxed(name: str, label: str, kind: str, x0: float, y0: float, x1: float, y1: float) -> None:
        s.rect(x0, y0, x1, y1)
        s.text(x0 + 3, y0 + 2, label, 6.5)
        label_y1 = y0 + 2 + 6.5
        if y1 - label_y1 >= 16:
            s.field(name, label, (x0 + 1.8, label_y1 + 1, x1 - 1.8, y1 - 1.8), kind)
        else:
            label_x1 = x0 + 3 + 6.5 * len(label)
            s.field(name, label, (label_x1 + 4, y0 + 1.8, x1 - 1.8, y1 - 1.8), kind)

    boxed("kana", "フリガナ", "katakana", 40, 100, 380, 116)
    boxed("name", "氏名", "text", 40, 116, 380, 156)
    boxed("birth", "生年月日", "date", 380, 100, 555, 156)
    boxed("address", "住所", "text", 40, 156, 555, 200)
    boxed("phone", "電話番号", "phone", 40, 200, 300, 220)
    boxed("job", "職業", "text", 300, 200, 555, 240)
    s.text(45, 254, "加入の理由")
    x = 110.0
    for name, option in (
        ("reason_move", "転入"),
        ("reason_leave", "社保離脱"),
        ("reason_birth", "出生"),
        ("reason_other", "その他"),
    ):
        s.rect(x, 253, x + 10, 263)
        s.field(name, f"加入の理由：{option}", (x - 2.25, 250.75, x + 12.25, 265.25), "checkbox")
        s.text(x + 14, 254, option)
        x += 14 + 9 * len(option) + 16
    s.text(45, 300, "※以下は市記入欄")
    for i, head in enumerate(("受付", "入力", "確認")):
        s.rect(40 + i * 80, 315, 120 + i * 80, 330)
        s.text(48 + i * 80, 319, head)
        s.rect(40 + i * 80, 330, 120 + i * 80, 370)
    return s.finish()


BLANK_FORMS["kokuho_shutoku"] = kokuho_shutoku
