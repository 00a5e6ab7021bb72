"""End to end: a sheet with impossible values goes through the real pipeline and comes out flagged."""

from __future__ import annotations

import pytest

from ocr_service.forms.loader import load_layout_file
from tests.conftest import SAMPLE_FORM_DIR
from tests.support.render import render_filled_pdf, sample_values_for
from workers.pipeline.document import process_pdf
from workers.pipeline.recognizer import load_recognizer


@pytest.mark.slow
def test_impossible_values_are_flagged_not_auto_accepted() -> None:
    """GIVEN the sample form filled with 令和7年2月30日, month 13 and both 性別 boxes ticked
    WHEN read by the pipeline THEN those fields are invalid with Japanese reasons and below the
    threshold, while the valid fields stay ok."""
    source = load_layout_file(SAMPLE_FORM_DIR)
    values = sample_values_for(source.layout)
    values.update({"entry_date": "令和7年2月30日", "birth_month": "13", "sex_male": True, "sex_female": True})
    pdf = render_filled_pdf(template_pdf=source.template_pdf, layout=source.layout, values=values, seed=4)
    pages = process_pdf(
        pdf,
        layout=source.layout,
        template_pdf=source.template_pdf,
        recognizer=load_recognizer(None, intra_op_threads=2),
        low_confidence_threshold=0.8,
    )
    fields = {f.name: f for f in pages[0].fields}
    assert fields["entry_date"].value == "令和7年2月30日"  # read right, kept as read
    for name, reason in [
        ("entry_date", "存在しない日付"),
        ("birth_month", "12以下"),
        ("sex_male", "複数にチェック"),
        ("sex_female", "複数にチェック"),
    ]:
        assert fields[name].status == "invalid", name
        assert reason in (fields[name].reason or ""), (name, fields[name].reason)
        assert fields[name].confidence < 0.8
    assert fields["postal_code"].status == "ok" and fields["child_name"].status == "ok"
