"""``forms propose`` on blank forms of designs it was not tuned on, scored like the eval layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocr_service.cli.main import app
from ocr_service.forms.propose import propose_template
from ocr_service.forms.propose.output import score_proposals, to_fields_json, to_layout
from ocr_service.forms.yaml_io import dump_layout_yaml, load_layout_yaml
from tests.support.blank_forms import BLANK_FORMS


@pytest.mark.parametrize("name", sorted(BLANK_FORMS))
def test_generated_blank_forms_are_proposed_with_high_recall_and_right_types(name: str) -> None:
    """GIVEN a blank form (underlines, combs, left-labelled boxes / a table) WHEN proposed THEN recall and type accuracy ≥ 90 %."""
    pdf, truth = BLANK_FORMS[name]()
    proposed = propose_template(pdf)
    score = score_proposals(to_fields_json(proposed, code=name)["fields"], truth["fields"])
    assert score.recall >= 0.9, score.as_dict()
    assert score.precision >= 0.9, score.as_dict()
    assert score.type_accuracy >= 0.9, score.as_dict()
    assert score.cells_accuracy == 1.0, score.as_dict()


def test_proposed_layout_is_valid_and_its_yaml_round_trips() -> None:
    """GIVEN proposals WHEN turned into a layout and YAML THEN it validates, names are unique, YAML is byte-stable."""
    pdf, _truth = BLANK_FORMS["tennyu_todoke"]()
    layout = to_layout(propose_template(pdf), code="tennyu_todoke")
    assert len({f.name for f in layout.fields}) == len(layout.fields)
    my_number = next(f for f in layout.fields if f.cells == 12)
    assert my_number.rules is not None and my_number.rules.check_digit == "my_number"
    text = dump_layout_yaml(layout)
    assert dump_layout_yaml(load_layout_yaml(text)) == text


def test_cli_writes_the_eval_fields_json_format(tmp_path: Path) -> None:
    """GIVEN a template PDF WHEN `forms propose --format fields-json` THEN exactly the eval keys, and --score reports recall."""
    pdf, truth = BLANK_FORMS["setai_ichiran"]()
    template = tmp_path / "setai.pdf"
    template.write_bytes(pdf)
    out = tmp_path / "fields.json"
    result = CliRunner().invoke(
        app, ["forms", "propose", str(template), "--format", "fields-json", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) == {"layout", "title", "page_size_pt", "fields"}
    assert {tuple(sorted(f)) for f in data["fields"]} == {("bbox_pt", "cells", "label", "name", "type")}
    (tmp_path / "truth.json").write_text(json.dumps(truth, ensure_ascii=False), encoding="utf-8")
    scored = CliRunner().invoke(
        app, ["forms", "propose", str(template), "--score", str(tmp_path / "truth.json")]
    )
    assert json.loads(scored.output)["recall"] == 1.0


def test_a_broken_pdf_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    """GIVEN a file that is not a PDF WHEN proposed THEN a clear error, exit code 1."""
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    result = CliRunner().invoke(app, ["forms", "propose", str(bad)])
    assert result.exit_code != 0
    assert "PDF" in result.output


@pytest.mark.slow
def test_a_skewed_scan_of_a_blank_form_is_proposed_from_the_picture() -> None:
    """GIVEN a blank form printed and scanned (image only, 0.6° skew, blur, noise) WHEN proposed
    THEN labels come from PP-OCR and recall/type accuracy stay ≥ 90 % with the boxes on the scan."""
    from ocr_service.forms.layout import FormLayout
    from ocr_service.forms.synthetic import render_filled_pdf

    pdf, truth = BLANK_FORMS["setai_ichiran"]()
    dummy = FormLayout.model_validate(
        {"code": "s", "title": "s", "fields": [{"name": "x", "label": "x", "box": [1, 1, 2, 2]}]}
    )
    scan = render_filled_pdf(
        template_pdf=pdf,
        layout=dummy,
        values={},
        dpi=200,
        rotate_deg=0.6,
        blur=0.6,
        noise=0.03,
        grayscale=True,
    )
    proposed = propose_template(scan)
    assert proposed.text_source == "ocr"
    score = score_proposals(to_fields_json(proposed, code="s")["fields"], truth["fields"])
    assert score.recall >= 0.9 and score.type_accuracy >= 0.9, score.as_dict()


def test_a_giant_page_is_refused_before_rendering() -> None:
    """GIVEN a PDF whose page is 5 m wide WHEN proposed THEN ValueError (nothing is rendered)."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=14400, height=14400)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(ValueError, match="大きすぎ"):
        propose_template(buffer.getvalue())
