"""The shipped sample form (乳幼児健康診査 問診票), its schema, and the filled-form renderer."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import sys
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import numpy as np
import pytest
import yaml
from pdf2image import convert_from_bytes
from pypdf import PdfReader

from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutError, LayoutSource, load_yaml_layout
from tests.support.render import render_filled_multi_pdf, render_filled_pdf, sample_values_for

REPO_ROOT = Path(__file__).resolve().parents[2]
FORMS_DIR = REPO_ROOT / "form_definitions"
SAMPLE_DIR = FORMS_DIR / "nyuyoji_kenshin"
FORM_YAML = SAMPLE_DIR / "form.yaml"
TEMPLATE_PDF = SAMPLE_DIR / "template.pdf"
SCHEMA_JSON = FORMS_DIR / "schema" / "form.schema.json"

A4_PT = (595.28, 841.89)


def _import_script(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def make_template() -> ModuleType:
    return _import_script(SAMPLE_DIR / "make_template.py", "nyuyoji_kenshin_make_template")


@pytest.fixture(scope="module")
def source() -> LayoutSource:
    return load_yaml_layout(FORM_YAML)


@pytest.fixture(scope="module")
def layout(source: LayoutSource) -> FormLayout:
    return source.layout


def _gray_page(pdf: bytes, dpi: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    images = convert_from_bytes(pdf, dpi=dpi, first_page=1, last_page=1)
    return np.asarray(images[0].convert("L"), dtype=np.uint8)


def _dark_fraction(
    gray: np.ndarray[Any, np.dtype[np.uint8]],
    box: tuple[float, float, float, float],
    dpi: int,
    inset_pt: float,
) -> float:
    k = dpi / 72.0
    x0, y0, x1, y1 = box
    crop = gray[
        round((y0 + inset_pt) * k) : round((y1 - inset_pt) * k),
        round((x0 + inset_pt) * k) : round((x1 - inset_pt) * k),
    ]
    return float((crop < 128).mean())


# --------------------------------------------------------------------------- the shipped definition


def test_form_yaml_validates_against_json_schema() -> None:
    """GIVEN the shipped form.yaml and form.schema.json
    WHEN the YAML is validated with a draft 2020-12 validator
    THEN the schema itself is valid and the YAML conforms to it."""
    schema = json.loads(SCHEMA_JSON.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load(FORM_YAML.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)


def test_json_schema_is_generated_from_the_model() -> None:
    """GIVEN the schema generator (FormLayout.model_json_schema plus the YAML-only keys)
    WHEN it renders the schema
    THEN the checked-in form.schema.json is identical (the schema cannot drift from the model)."""
    generate = _import_script(FORMS_DIR / "schema" / "generate.py", "form_schema_generate")
    assert generate.render_schema() == SCHEMA_JSON.read_text(encoding="utf-8")


def test_json_schema_rejects_unknown_keys_and_types() -> None:
    """GIVEN the schema
    WHEN a layout has an unknown top-level key or an unknown field type
    THEN validation fails (the schema is as strict as the pydantic model)."""
    schema = json.loads(SCHEMA_JSON.read_text(encoding="utf-8"))
    data = yaml.safe_load(FORM_YAML.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid({**data, "colour": "red"})
    bad_field = {**data["fields"][0], "type": "signature"}
    assert not validator.is_valid({**data, "fields": [bad_field, *data["fields"][1:]]})


def test_form_yaml_loads_through_the_loader(source: LayoutSource) -> None:
    """GIVEN the shipped sample
    WHEN load_yaml_layout reads it
    THEN it yields the A4 one-page nyuyoji_kenshin layout with its template and the expected field kinds."""
    layout = source.layout
    assert layout.code == "nyuyoji_kenshin"
    assert layout.version == 2
    assert layout.pages == 1
    assert layout.page_size_pt == A4_PT
    assert source.template_pdf == TEMPLATE_PDF.read_bytes()
    assert 20 <= len(layout.fields) <= 30
    by_name = {f.name: f for f in layout.fields}
    assert by_name["postal_code"].type == "postal" and by_name["postal_code"].cells == 7
    assert by_name["child_furigana"].type == "hiragana"
    assert by_name["phone"].type == "phone"
    assert by_name["entry_date"].type == "date"
    assert {by_name[n].type for n in ("birth_year", "birth_month", "birth_day", "birth_weight_g")} == {
        "digits"
    }
    assert by_name["concerns"].multiline
    assert sum(f.type == "checkbox" for f in layout.fields) >= 10
    assert all(f.csv_column for f in layout.fields)
    assert len({f.csv_column for f in layout.fields}) == len(layout.fields)


def test_boxes_lie_inside_the_page_and_do_not_overlap(layout: FormLayout) -> None:
    """GIVEN the sample layout
    WHEN every field box is compared with the page and with every other box
    THEN all boxes are inside the page and no two boxes share any area."""
    width, height = layout.page_size_pt
    for spec in layout.fields:
        x0, y0, x1, y1 = spec.box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, spec.name
    for a, b in combinations(layout.fields, 2):
        overlap = a.box[0] < b.box[2] and b.box[0] < a.box[2] and a.box[1] < b.box[3] and b.box[1] < a.box[3]
        assert not overlap, f"{a.name} overlaps {b.name}"


def test_template_pdf_is_one_a4_page() -> None:
    """GIVEN the checked-in template.pdf
    WHEN pypdf reads it
    THEN it has exactly one A4 portrait page and is a small vector file."""
    reader = PdfReader(io.BytesIO(TEMPLATE_PDF.read_bytes()))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert float(box.width) == pytest.approx(A4_PT[0], abs=0.5)
    assert float(box.height) == pytest.approx(A4_PT[1], abs=0.5)
    assert TEMPLATE_PDF.stat().st_size < 300_000


def test_form_yaml_is_what_make_template_generates(make_template: ModuleType) -> None:
    """GIVEN make_template.py, the single source of the box coordinates
    WHEN its layout function is rendered to YAML
    THEN the text equals the checked-in form.yaml byte for byte (the two cannot drift)."""
    generated = make_template.render_yaml(make_template.layout_mapping())
    assert generated == FORM_YAML.read_text(encoding="utf-8")
    assert yaml.safe_load(generated) == yaml.safe_load(FORM_YAML.read_text(encoding="utf-8"))


def test_template_draws_a_border_at_every_yaml_box_and_no_labels_inside(layout: FormLayout) -> None:
    """GIVEN the checked-in template.pdf rasterised at 144 dpi and the form.yaml boxes
    WHEN each box's edges and interior are inspected
    THEN a printed border runs along every edge and the interior is nearly blank
    (labels are printed outside the boxes, so they never end up in an OCR crop)."""
    dpi = 144
    k = dpi / 72.0
    gray = _gray_page(TEMPLATE_PDF.read_bytes(), dpi)
    for spec in layout.fields:
        x0, y0, x1, y1 = (v * k for v in spec.box)
        mid_x, mid_y = round((x0 + x1) / 2), round((y0 + y1) / 2)
        edges = {
            "top": gray[round(y0) - 2 : round(y0) + 3, mid_x],
            "bottom": gray[round(y1) - 2 : round(y1) + 3, mid_x],
            "left": gray[mid_y, round(x0) - 2 : round(x0) + 3],
            "right": gray[mid_y, round(x1) - 2 : round(x1) + 3],
        }
        for edge, strip in edges.items():
            assert int(strip.min()) < 128, f"no printed {edge} edge for '{spec.name}'"
        # Comb separators and the postal hyphen are the only ink allowed inside.
        assert _dark_fraction(gray, spec.box, dpi, inset_pt=2.5) < 0.06, spec.name


def test_make_template_refuses_a_label_inside_a_box(make_template: ModuleType) -> None:
    """GIVEN a field box moved over a printed instruction line
    WHEN the template is drawn
    THEN make_template fails instead of shipping a box whose crop contains printed text."""
    fields = make_template.build_fields()
    moved = [
        make_template.FieldDef(f.name, f.label, (40.0, 92.0, 300.0, 116.0), f.type)
        if f.name == "entry_date"
        else f
        for f in fields
    ]
    with pytest.raises(ValueError, match="太枠"):
        make_template.make_pdf(moved)


# --------------------------------------------------------------------------- malformed layouts


def _write_layout(folder: Path, mutate: Any) -> Path:
    data = yaml.safe_load(FORM_YAML.read_text(encoding="utf-8"))
    mutate(data)
    path = folder / "form.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    shutil.copyfile(TEMPLATE_PDF, folder / "template.pdf")
    return path


def _duplicate_name(data: dict[str, Any]) -> None:
    data["fields"][1]["name"] = data["fields"][0]["name"]


def _box_outside_page(data: dict[str, Any]) -> None:
    data["fields"][2]["box"] = [500.0, 800.0, 700.0, 830.0]


def _unknown_type(data: dict[str, Any]) -> None:
    data["fields"][3]["type"] = "signature"


@pytest.mark.parametrize(
    ("mutate", "field_ref"),
    [
        pytest.param(_duplicate_name, ("entry_date",), id="duplicate-name"),
        pytest.param(_box_outside_page, ("child_name",), id="box-outside-page"),
        # The loader reports pydantic's location for type errors: fields.<index>.type.
        pytest.param(_unknown_type, ("sex_male", "fields.3.type"), id="unknown-type"),
    ],
)
def test_malformed_layout_raises_layout_error_naming_file_and_field(
    tmp_path: Path, mutate: Any, field_ref: tuple[str, ...]
) -> None:
    """GIVEN a copy of the sample with one defect (duplicate name, box off the page, unknown type)
    WHEN load_yaml_layout reads it
    THEN LayoutError is raised and its message names the file and the offending field."""
    path = _write_layout(tmp_path, mutate)
    with pytest.raises(LayoutError) as caught:
        load_yaml_layout(path)
    message = str(caught.value)
    assert str(path) in message
    assert any(ref in message for ref in field_ref), message


# --------------------------------------------------------------------------- renderer


def test_sample_values_cover_every_field_with_the_right_kind(layout: FormLayout) -> None:
    """GIVEN the sample layout
    WHEN sample_values_for builds its value set twice
    THEN every field has a value (bool for checkboxes, non-empty str otherwise) and the sets are equal."""
    values = sample_values_for(layout)
    assert values == sample_values_for(layout)
    assert set(values) == {f.name for f in layout.fields}
    for spec in layout.fields:
        value = values[spec.name]
        if spec.type == "checkbox":
            assert isinstance(value, bool), spec.name
        else:
            assert isinstance(value, str) and value, spec.name
    assert values["child_name"] == "山田太郎"
    assert values["postal_code"] == "1234567"


@pytest.fixture(scope="module")
def filled_pdf(source: LayoutSource) -> Iterator[bytes]:
    values = sample_values_for(source.layout)
    assert values["q1_yes"] is True and values["q1_no"] is False
    yield render_filled_pdf(template_pdf=source.template_pdf, layout=source.layout, values=values, dpi=150)


def test_render_filled_pdf_is_a_one_page_a4_pdf(filled_pdf: bytes) -> None:
    """GIVEN the sample template and values
    WHEN render_filled_pdf renders them at 150 dpi
    THEN the result is a valid one-page PDF of (about) A4 size."""
    assert filled_pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(filled_pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert float(box.width) == pytest.approx(A4_PT[0], abs=1.0)
    assert float(box.height) == pytest.approx(A4_PT[1], abs=1.0)


def test_render_ticks_true_checkboxes_and_writes_text(filled_pdf: bytes, layout: FormLayout) -> None:
    """GIVEN a page rendered with q1_yes=True and q1_no=False
    WHEN the ink inside each checkbox (and a text box) is measured
    THEN the True box holds clearly more ink than the False one, and the text box is no longer blank."""
    dpi = 150
    gray = _gray_page(filled_pdf, dpi)
    by_name = {f.name: f for f in layout.fields}
    ticked = _dark_fraction(gray, by_name["q1_yes"].box, dpi, inset_pt=2.0)
    empty = _dark_fraction(gray, by_name["q1_no"].box, dpi, inset_pt=2.0)
    assert ticked > empty + 0.05
    assert empty < 0.02
    assert _dark_fraction(gray, by_name["child_name"].box, dpi, inset_pt=2.5) > 0.02


def test_render_applies_distortions_and_pages_concatenate(source: LayoutSource) -> None:
    """GIVEN the sample values
    WHEN pages are rendered with rotation, shift, scale, noise and upside down, then concatenated
    THEN each render is a deterministic one-page PDF that differs from the clean one,
    and the concatenation has one page per input."""
    values = sample_values_for(source.layout)
    common: dict[str, Any] = {
        "template_pdf": source.template_pdf,
        "layout": source.layout,
        "values": values,
        "dpi": 100,
    }
    clean = render_filled_pdf(**common)
    skewed = render_filled_pdf(**common, rotate_deg=1.5, shift_px=(12, -8), scale=0.98, noise=0.03, seed=7)
    flipped = render_filled_pdf(**common, upside_down=True)
    assert skewed == render_filled_pdf(
        **common, rotate_deg=1.5, shift_px=(12, -8), scale=0.98, noise=0.03, seed=7
    )
    assert len({clean, skewed, flipped}) == 3
    combined = render_filled_multi_pdf([clean, skewed, flipped])
    assert len(PdfReader(io.BytesIO(combined)).pages) == 3


def test_render_rejects_values_for_unknown_fields(source: LayoutSource) -> None:
    """GIVEN a value keyed by a name the layout does not have
    WHEN render_filled_pdf is called
    THEN it raises ValueError naming that field (a typo must not silently leave a box blank)."""
    with pytest.raises(ValueError, match="no_such_field"):
        render_filled_pdf(
            template_pdf=source.template_pdf, layout=source.layout, values={"no_such_field": "x"}
        )
