"""The usage report as CSV (CP932, for Excel) and as PDF (A4, IPAex Gothic) for the council."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ocr_service.audit.chain import as_utc
from ocr_service.audit.review import encode_cp932, spreadsheet_safe
from ocr_service.reports.usage import JST, UsageReport

FONT_PATH = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
"""IPAex Gothic (Debian: fonts-ipaexfont, installed by the set-up command)."""
FONT = "IPAexGothic"
ROLE_JA = {"operator": "スキャン担当", "reviewer": "確認担当", "admin": "管理者", "auditor": "監査担当"}


def _when(moment: datetime | None) -> str:
    return f"{as_utc(moment).astimezone(JST):%Y-%m-%d %H:%M}" if moment else "利用なし"


def sections(report: UsageReport) -> list[tuple[str, list[list[str]]]]:
    """The report's tables (title, header row + rows): one source for CSV and PDF."""
    categories = sorted(report.items)
    forms = [["様式コード", "様式名", "文書数", "ページ数", "確認済", "出力文書数", "閲覧数", *categories]]
    for f in report.forms:
        forms.append(
            [
                f.code,
                f.title,
                str(f.documents),
                str(f.pages),
                str(f.confirmed),
                str(f.exported_documents),
                str(f.views),
                *(str(f.items.get(c, 0)) for c in categories),
            ]
        )
    items = [["個人情報の項目", "取扱件数"]] + [[c, str(n)] for c, n in sorted(report.items.items())]
    summary = [
        ["項目", "値"],
        ["組織", report.org_name],
        ["対象月", report.month],
        ["受付文書数", str(report.documents)],
        ["ページ数", str(report.pages)],
        ["出力回数", str(report.exports)],
        ["出力行数", str(report.export_rows)],
        ["削除件数", str(len(report.deletions))],
        ["操作履歴件数", str(report.events)],
    ]
    deletions = [["日時", "文書ID", "様式", "削除証明書ID", "実施者"]] + [
        [_when(d.at), d.document_id, d.form_code, d.certificate_id, d.actor] for d in report.deletions
    ]
    accounts = [["利用者", "氏名", "役割", "有効", "最終利用", "当月の操作数"]] + [
        [
            a.username,
            a.display_name,
            ROLE_JA.get(a.role, a.role),
            "有効" if a.active else "停止",
            _when(a.last_used),
            str(a.events_in_month),
        ]
        for a in report.accounts
    ]
    return [
        ("概要", summary),
        ("様式別の取扱状況", forms),
        ("取り扱った個人情報の項目", items),
        ("削除（削除証明書）", deletions),
        ("アカウントと最終利用", accounts),
    ]


def usage_csv(report: UsageReport) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([f"利用状況報告 {report.org_name} {report.month}"])
    for title, rows in sections(report):
        writer.writerow([])
        writer.writerow([f"【{title}】"])
        writer.writerows([[spreadsheet_safe(cell) for cell in row] for row in rows])
    return encode_cp932(buffer.getvalue())


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, FONT_PATH))
    return FONT


def usage_pdf(report: UsageReport) -> bytes:
    font = _font()
    title_style = ParagraphStyle("title", fontName=font, fontSize=16, leading=22)
    heading = ParagraphStyle("heading", fontName=font, fontSize=12, leading=18, spaceBefore=8)
    cell = ParagraphStyle("cell", fontName=font, fontSize=7.5, leading=9.5)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"利用状況報告 {report.org_name} {report.month}",
        invariant=1,
    )
    story: list[object] = [Paragraph(f"利用状況報告（{report.month}）　{report.org_name}", title_style)]
    for title, rows in sections(report):
        story.append(Paragraph(title, heading))
        if len(rows) == 1:
            rows = [*rows, ["該当なし", *[""] * (len(rows[0]) - 1)]]
        table = Table([[Paragraph(value, cell) for value in row] for row in rows], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef6")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.extend([table, Spacer(1, 4 * mm)])
    document.build(story)
    return buffer.getvalue()
