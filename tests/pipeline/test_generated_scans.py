"""Page handling on generated scans: orientation, skew/scale/shift, blank backs, mixed-form PDFs,
unknown forms, stamps over fields and circled choices.

Scans are rendered from two small test templates (tests/pipeline/conftest.py) with known values
by tests/support/render.py, so these tests always run; no evaluation data is needed. A recorder
stands in for the OCR model where only the layout side is under test (which crops get read, and
which do not); the slow test at the end reads digits with the real model.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ocr_service.forms.layout import FormLayout
from tests.pipeline.conftest import make_unknown_template_pdf
from tests.support.backs import render_blank_back_pdf
from tests.support.fakes import FixedReader
from tests.support.render import render_filled_multi_pdf, render_filled_pdf
from workers.pipeline.align import align_page
from workers.pipeline.blank import is_blank_page
from workers.pipeline.document import read_pdf
from workers.pipeline.identify import LayoutCandidate, candidates_for
from workers.pipeline.page import PagePipeline
from workers.pipeline.raster import rasterize_pdf, render_template
from workers.pipeline.recognizer import load_recognizer
from workers.pipeline.types import PageReading

DPI = 150
A_VALUES: dict[str, str | bool] = {"name": "", "postal": "1234567", "agree": True, "phone": ""}


def _raster(pdf: bytes) -> list[np.ndarray]:
    return rasterize_pdf(pdf, dpi=DPI, timeout_s=60.0, max_pages=10, max_pixels=50_000_000)


@pytest.fixture(scope="module")
def candidates(
    layout: FormLayout, template_pdf: bytes, second_layout: FormLayout, second_template_pdf: bytes
) -> list[LayoutCandidate]:
    return candidates_for(key="form-a", layout=layout, template_pdf=template_pdf, dpi=DPI) + candidates_for(
        key="form-b", layout=second_layout, template_pdf=second_template_pdf, dpi=DPI
    )


def _read(
    pdf: bytes, candidates: list[LayoutCandidate], recorder: FixedReader | None = None
) -> list[PageReading]:
    pipeline = PagePipeline(recorder or FixedReader("7"), dpi=DPI)
    return read_pdf(pdf, candidates, pipeline=pipeline)


def _fields(reading: PageReading) -> dict[str, str | bool]:
    return {f.name: f.value for f in reading.fields}


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_each_orientation_is_detected_and_fixed_before_reading(
    turns: int, layout: FormLayout, template_pdf: bytes, candidates: list[LayoutCandidate]
) -> None:
    """GIVEN form A fed turned by 0/90/180/270° (plus a slight skew)
    WHEN identified and aligned
    THEN the orientation is reported, the page lands on the template and the checkbox reads right."""
    pdf = render_filled_pdf(
        template_pdf=template_pdf,
        layout=layout,
        values=A_VALUES,
        dpi=DPI,
        rotate_deg=1.2,
        quarter_turns=turns,
    )
    (page,) = _read(pdf, candidates)
    assert page.status == "ok" and page.form_key == "form-a"
    assert page.orientation == (360 - 90 * turns) % 360
    assert page.residual_px is not None and page.residual_px < 1.5
    assert _fields(page)["agree"] is True and _fields(page)["name"] == ""


@pytest.mark.parametrize(
    ("angle", "scale", "shift"),
    [
        (5.0, 1.0, (0, 0)),
        (-5.0, 1.0, (0, 0)),
        (0.0, 1.03, (0, 0)),
        (0.0, 0.97, (0, 0)),
        (1.5, 1.0, (40, -30)),
    ],
)
def test_skew_scale_and_shift_are_undone(
    angle: float, scale: float, shift: tuple[int, int], layout: FormLayout, template_pdf: bytes
) -> None:
    """GIVEN form A skewed ±5°, scaled 3 % or shifted WHEN aligned THEN within about a pixel, not doubtful."""
    template = render_template(template_pdf, dpi=DPI)[0]
    pdf = render_filled_pdf(
        template_pdf=template_pdf,
        layout=layout,
        values=A_VALUES,
        dpi=DPI,
        rotate_deg=angle,
        scale=scale,
        shift_px=shift,
        noise=0.03,
    )
    result = align_page(_raster(pdf)[0], template, dpi=DPI)
    assert result.ok and not result.doubtful and result.orientation == 0
    assert abs(result.rotation_deg - angle) < 0.3
    assert abs(result.scale * scale - 1.0) < 0.005
    assert result.residual_px is not None and result.residual_px < 1.0


def test_blank_back_with_noise_dust_and_bleed_through_is_skipped(template_pdf: bytes) -> None:
    """GIVEN the back of a sheet (grey paper, noise, dust, the front showing through) and one with a short note
    WHEN checked THEN the first is blank, the note is not, and a filled form is not."""
    back = _raster(render_blank_back_pdf(template_pdf=template_pdf, dpi=DPI, seed=3))[0]
    note = _raster(render_blank_back_pdf(template_pdf=template_pdf, dpi=DPI, seed=3, note="裏に続く"))[0]
    front = render_template(template_pdf, dpi=DPI)[0]
    assert is_blank_page(back, dpi=DPI)
    assert not is_blank_page(note, dpi=DPI)
    assert not is_blank_page(front, dpi=DPI)


def test_two_form_pdf_in_mixed_order_with_blank_back_and_unknown_form(
    layout: FormLayout,
    template_pdf: bytes,
    second_layout: FormLayout,
    second_template_pdf: bytes,
    candidates: list[LayoutCandidate],
) -> None:
    """GIVEN one PDF: form B, its blank back, form A, an unregistered form, form B upside down
    WHEN read without naming a form
    THEN each page gets its own layout, the back is blank, the unknown page is unidentified with a
    Japanese reason and no field readings (nothing is read from it), and B's choices are read."""
    b_values: dict[str, str | bool] = {"kana": "", "era": "平成", "smoker": "いいえ", "consent": True}
    unknown_layout = layout.model_copy(update={"code": "unknown"})
    pdf = render_filled_multi_pdf(
        [
            render_filled_pdf(
                template_pdf=second_template_pdf, layout=second_layout, values=b_values, dpi=DPI
            ),
            render_blank_back_pdf(template_pdf=second_template_pdf, dpi=DPI, seed=1),
            render_filled_pdf(
                template_pdf=template_pdf, layout=layout, values=A_VALUES, dpi=DPI, rotate_deg=-2
            ),
            render_filled_pdf(
                template_pdf=make_unknown_template_pdf(), layout=unknown_layout, values={}, dpi=DPI
            ),
            render_filled_pdf(
                template_pdf=second_template_pdf,
                layout=second_layout,
                values={**b_values, "era": "令和", "smoker": "はい"},
                dpi=DPI,
                upside_down=True,
            ),
        ]
    )
    recorder = FixedReader("7")
    pages = _read(pdf, candidates, recorder)
    assert [p.status for p in pages] == ["ok", "blank", "ok", "unidentified", "ok"]
    assert [p.form_key for p in pages] == ["form-b", None, "form-a", None, "form-b"]
    assert pages[3].reason and "様式" in pages[3].reason and pages[3].fields == []
    assert pages[0].identify_score is not None and pages[0].identify_score > 0.8
    assert pages[3].identify_score is not None and pages[3].identify_score < 0.5
    assert _fields(pages[0]) == {"kana": "", "era": "平成", "smoker": "いいえ", "consent": True}
    assert _fields(pages[4])["era"] == "令和" and _fields(pages[4])["smoker"] == "はい"
    assert _fields(pages[2])["agree"] is True
    # Only form A's postal field has writing: empty fields and the unknown page are never sent to OCR.
    assert recorder.crops == 1


def test_two_circled_options_are_flagged_not_guessed(
    second_layout: FormLayout, second_template_pdf: bytes, candidates: list[LayoutCandidate]
) -> None:
    """GIVEN 令和 and 平成 both circled, and no option of 喫煙 marked
    WHEN read THEN era is "" flagged for review with a reason, smoker is an empty reading."""
    values: dict[str, str | bool] = {"era": "令和|平成", "smoker": ""}
    pdf = render_filled_pdf(template_pdf=second_template_pdf, layout=second_layout, values=values, dpi=DPI)
    (page,) = _read(pdf, candidates)
    era = next(f for f in page.fields if f.name == "era")
    smoker = next(f for f in page.fields if f.name == "smoker")
    assert era.value == "" and era.status == "low_confidence" and era.reason and "複数" in era.reason
    assert smoker.value == "" and smoker.status == "empty"


@pytest.mark.parametrize("grayscale", [False, True])
def test_red_seal_over_an_empty_field_is_not_read_as_text(
    grayscale: bool, layout: FormLayout, template_pdf: bytes, candidates: list[LayoutCandidate]
) -> None:
    """GIVEN a red 印 seal stamped over the empty name field
    WHEN read from a colour scan THEN the seal is dropped: the field is empty and OCR never sees it;
    WHEN read from a grey scan (no colour to drop) THEN the field is flagged as a seal, not read as text."""
    pdf = render_filled_pdf(
        template_pdf=template_pdf,
        layout=layout,
        values=A_VALUES,
        dpi=DPI,
        stamp_over="name",
        grayscale=grayscale,
    )
    recorder = FixedReader("7")
    (page,) = _read(pdf, candidates, recorder)
    name = next(f for f in page.fields if f.name == "name")
    if grayscale:
        assert name.status == "low_confidence" and name.reason and "印" in name.reason
    else:
        assert name.value == "" and name.status == "empty"
        assert recorder.crops == 1  # the postal code only


@pytest.mark.slow
def test_rotated_and_skewed_scans_read_the_digits(layout: FormLayout, template_pdf: bytes) -> None:
    """GIVEN form A at 270° and at -5° skew, 3 % larger, with the postal code and phone written
    WHEN read with the real recogniser (named form) THEN the digits come out exactly."""
    values: dict[str, str | bool] = {"name": "", "postal": "1500042", "agree": False, "phone": "0312345678"}
    pipeline = PagePipeline(load_recognizer(None, intra_op_threads=2), dpi=200)
    template = render_template(template_pdf, dpi=200)[0]
    for kwargs in ({"quarter_turns": 3, "rotate_deg": 0.8}, {"rotate_deg": -5.0, "scale": 1.03}):
        pdf = render_filled_pdf(template_pdf=template_pdf, layout=layout, values=values, dpi=200, **kwargs)  # type: ignore[arg-type]
        image = rasterize_pdf(pdf, dpi=200, timeout_s=60.0, max_pages=2, max_pixels=50_000_000)[0]
        page = pipeline.process_page(image, layout=layout, layout_page=1, page_no=1, template_image=template)
        got = _fields(page)
        assert got["postal"] == "1500042" and got["phone"] == "0312345678" and got["agree"] is False, kwargs
        assert got["name"] == ""


def _bend(image: np.ndarray, amplitude_px: float) -> np.ndarray:
    """Paper that bent in the feeder: a wave no homography can follow."""
    h, w = image.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x = xs + amplitude_px * np.sin(ys / h * 3 * np.pi).astype(np.float32)
    map_y = ys + amplitude_px * np.sin(xs / w * 3 * np.pi).astype(np.float32)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderValue=255)


def test_doubtful_alignment_is_flagged_to_the_reviewer(layout: FormLayout, template_pdf: bytes) -> None:
    """GIVEN a scan of form A whose paper bent (a wave of 6 px) and one that is flat
    WHEN read THEN the bent page is still read, but its residual is higher and most of the
    template's windows no longer match, so the page carries a Japanese reason and no field
    skips review; the flat page is not flagged."""
    template = render_template(template_pdf, dpi=DPI)[0]
    flat = _raster(render_filled_pdf(template_pdf=template_pdf, layout=layout, values=A_VALUES, dpi=DPI))[0]
    pipeline = PagePipeline(FixedReader("7"), dpi=DPI)
    good = pipeline.process_page(flat, layout=layout, layout_page=1, page_no=1, template_image=template)
    bent = pipeline.process_page(
        _bend(flat, 6.0), layout=layout, layout_page=1, page_no=2, template_image=template
    )
    assert good.status == "ok" and not good.alignment_doubtful and good.reason is None
    assert bent.status == "ok" and bent.alignment_doubtful
    assert (
        bent.residual_px is not None
        and good.residual_px is not None
        and bent.residual_px > 2 * good.residual_px
    )
    assert bent.reason and "位置合わせ" in bent.reason
    # Fields already invalid keep their own reason; every other one carries the page's.
    assert all(
        (f.status == "low_confidence" and f.reason == bent.reason) or f.status == "invalid"
        for f in bent.fields
        if f.status != "empty"
    )
    assert any(f.status == "low_confidence" for f in bent.fields)
