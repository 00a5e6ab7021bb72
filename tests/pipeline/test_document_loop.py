"""The one document-reading loop (workers/pipeline/document.py): layout pages, skipped pages, callbacks.

The scans are drawn from the small test template (tests/pipeline/conftest.py); a stub stands in
for the OCR model, since which layout page each scan is read as is under test here, not text.
"""

from __future__ import annotations

import numpy as np

from ocr_service.forms.layout import FormLayout
from tests.pipeline.conftest import FIELDS, make_template_pdf
from tests.support.backs import render_blank_back_pdf
from tests.support.fakes import FixedReader
from tests.support.render import render_filled_multi_pdf
from workers.pipeline.document import (
    MISSING_TEMPLATE_REASON,
    NamedLayout,
    PriorPage,
    process_pdf,
    read_pages,
)
from workers.pipeline.identify import UNIDENTIFIED_REASON, LayoutCandidate
from workers.pipeline.page import PagePipeline
from workers.pipeline.raster import render_template
from workers.pipeline.types import PageReading

DPI = 100
TWO_PAGES = FormLayout.model_validate({"code": "two", "title": "二枚様式", "pages": 2, "fields": FIELDS})


def _sheet() -> bytes:
    return make_template_pdf(filled={"name": "山田太郎"})


def test_a_blank_back_between_sheets_uses_up_no_layout_page() -> None:
    """GIVEN an upload named as a 2-page form: sheet 1, its blank back, sheet 2, then the next form's sheet 1
    WHEN read with process_pdf
    THEN the blank back is reported blank and the sheet after it is read as layout page 2, not 1."""
    pdf = render_filled_multi_pdf([_sheet(), render_blank_back_pdf(dpi=DPI), _sheet(), _sheet()])
    pages = process_pdf(
        pdf, layout=TWO_PAGES, template_pdf=make_template_pdf(pages=2), recognizer=FixedReader("1"), dpi=DPI
    )
    assert [(p.page_no, p.status) for p in pages] == [(1, "ok"), (2, "blank"), (3, "ok"), (4, "ok")]
    assert [p.layout_page for p in pages] == [1, 2, 2, 1]


def test_a_layout_page_the_template_lacks_is_unaligned_not_an_error() -> None:
    """GIVEN a layout that claims 2 pages but whose template has only 1, and a 3-sheet upload
    WHEN read with process_pdf
    THEN the sheet shown as layout page 2 is 'unaligned' with the Japanese reason and no fields,
    and the sheets either side of it are still read."""
    pdf = render_filled_multi_pdf([_sheet(), _sheet(), _sheet()])
    pages = process_pdf(
        pdf, layout=TWO_PAGES, template_pdf=make_template_pdf(pages=1), recognizer=FixedReader("1"), dpi=DPI
    )
    assert [p.status for p in pages] == ["ok", "unaligned", "ok"]
    assert pages[1].reason == MISSING_TEMPLATE_REASON == "テンプレートにこのページがありません"
    assert pages[1].fields == [] and pages[0].fields and pages[2].fields
    assert [p.layout_page for p in pages] == [1, 2, 1]


class _ScriptedPipeline:
    """Stands in for the page pipeline: the pages in ``blank`` are blank backs, all others align."""

    dpi = DPI

    def __init__(self, events: list[str], blank: set[int]) -> None:
        self.events = events
        self.blank = blank

    def process_page(
        self, image: object, *, layout: FormLayout, layout_page: int, page_no: int, template_image: object
    ) -> PageReading:
        self.events.append(f"read {page_no} as {layout_page}")
        return PageReading(page_no=page_no, status="blank" if page_no in self.blank else "ok")


def test_pages_read_earlier_are_skipped_but_still_count_and_each_new_page_is_handed_over_in_order() -> None:
    """GIVEN a split-off document (pages 11-15) of a 2-page form whose pages 11 (layout page 1) and
    12 (a blank back) were stored by an earlier try, and page 14 is a blank back
    WHEN the loop runs with a before-page hook and a per-page callback
    THEN only pages 13-15 are read: 13 as layout page 2 (the stored blank did not use one up),
    14 and 15 as layout page 1; the hook and the callback each run once per page read, in page order,
    around its reading; the callback gets the returned readings; progress counts the skipped pages too."""
    events: list[str] = []
    handed: list[PageReading] = []
    progress: list[tuple[int, int]] = []
    images = [np.full((20, 20), 255, dtype=np.uint8) for _ in range(5)]

    def save(image: np.ndarray, reading: PageReading) -> None:
        events.append(f"save {reading.page_no}")
        handed.append(reading)

    readings = read_pages(
        images,
        NamedLayout(layout=TWO_PAGES, templates=[images[0], images[0]]),
        pipeline=_ScriptedPipeline(events, blank={14}),  # type: ignore[arg-type]
        first_page_no=11,
        prior={11: PriorPage(status="ok", layout_page=1), 12: PriorPage(status="blank", layout_page=2)},
        before_page=lambda page_no: events.append(f"before {page_no}"),
        on_page=save,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert events == [
        "before 13", "read 13 as 2", "save 13",
        "before 14", "read 14 as 1", "save 14",
        "before 15", "read 15 as 1", "save 15",
    ]  # fmt: skip
    assert handed == readings and [r.page_no for r in readings] == [13, 14, 15]
    assert [r.layout_page for r in readings] == [2, 1, 1]
    assert progress == [(n, 5) for n in range(1, 6)]


def test_an_unnamed_upload_goes_through_the_same_loop() -> None:
    """GIVEN identification candidates instead of a named layout, a blank page, a page with marks on it
    and a page stored by an earlier try
    WHEN the loop runs with a per-page callback
    THEN the stored page is skipped, the blank page is blank, the marked page (matching no template)
    is unidentified with its Japanese reason, and the callback gets both new readings in order."""
    blank = np.full((400, 300), 255, dtype=np.uint8)
    marked = blank.copy()
    marked[100:200, 50:250] = 0
    template = render_template(make_template_pdf(), dpi=DPI)[0]
    candidates = [LayoutCandidate(key="a", layout=TWO_PAGES, page=1, template=template)]
    handed: list[int] = []
    readings = read_pages(
        [blank, blank, marked],
        candidates,
        pipeline=PagePipeline(FixedReader("1"), dpi=DPI),
        prior={1: PriorPage(status="ok", layout_page=1)},
        on_page=lambda _image, reading: handed.append(reading.page_no),
    )
    assert [(r.page_no, r.status) for r in readings] == [(2, "blank"), (3, "unidentified")]
    assert readings[1].reason == UNIDENTIFIED_REASON
    assert handed == [2, 3]
