"""The ``eval forms`` command line is an interface other tools call: one JSON object on stdout.

The form set is generated here in the eval format (layouts with ``template.pdf`` + ``fields.json``,
``scans/``, ``truth.jsonl``), so the test needs no ../shared data and shows that the command works
on layouts it has never seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ocr_service.forms.layout import FormLayout
from tests.pipeline.conftest import FIELDS, SECOND_FIELDS, make_second_template_pdf, make_template_pdf
from tests.support.render import render_filled_multi_pdf, render_filled_pdf

pytestmark = pytest.mark.slow

FORM_KEYS = {
    "n_scans", "n_fields", "field_acc", "char_acc", "by_type", "auto_accept_rate", "auto_accept_error",
    "threshold", "pages_per_s",
}  # fmt: skip


def _write_layout(root: Path, code: str, fields: list[dict[str, Any]], template: bytes) -> FormLayout:
    folder = root / code
    folder.mkdir(parents=True)
    (folder / "template.pdf").write_bytes(template)
    eval_fields = [
        {"name": f["name"], "label": f["label"], "bbox_pt": list(f["box"]), "type": f["type"],
         "cells": f.get("cells", 0)}
        for f in fields
        if f["type"] != "choice"  # the eval format has no choice fields
    ]  # fmt: skip
    (folder / "fields.json").write_text(
        json.dumps({"layout": code, "title": code, "page_size_pt": [595.28, 841.89], "fields": eval_fields}),
        encoding="utf-8",
    )
    return FormLayout.model_validate(
        {"code": code, "title": code, "fields": [f for f in fields if f["type"] != "choice"]}
    )


@pytest.fixture(scope="module")
def form_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("formset")
    template_a, template_b = make_template_pdf(), make_second_template_pdf()
    layout_a = _write_layout(root, "form_a", FIELDS, template_a)
    layout_b = _write_layout(root, "form_b", SECOND_FIELDS, template_b)
    values_a: dict[str, str | bool] = {"name": "", "postal": "1234567", "agree": True, "phone": ""}
    values_b: dict[str, str | bool] = {f.name: (False if f.type == "checkbox" else "") for f in layout_b.fields}
    (root / "scans").mkdir()
    (root / "scans" / "0001.pdf").write_bytes(
        render_filled_pdf(template_pdf=template_a, layout=layout_a, values=values_a, rotate_deg=1.0)
    )
    (root / "scans" / "0002.pdf").write_bytes(
        render_filled_multi_pdf(
            [
                render_filled_pdf(template_pdf=template_b, layout=layout_b, values=values_b),
                render_filled_pdf(template_pdf=template_a, layout=layout_a, values=values_a, upside_down=True),
            ]
        )
    )
    truth = [
        {"scan": "scans/0001.pdf", "layout": "form_a", "fields": values_a},
        {"scan": "scans/0002.pdf", "page": 1, "layout": "form_b", "fields": values_b},
        {"scan": "scans/0002.pdf", "page": 2, "layout": "form_a", "fields": values_a},
    ]
    (root / "truth.jsonl").write_text("".join(json.dumps(t) + "\n" for t in truth), encoding="utf-8")
    return root


def _eval_forms(form_set: Path, tmp_path: Path, *extra: str) -> dict[str, Any]:
    env = {**os.environ, "OCR_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ocr-service")), "eval", "forms", str(form_set), "--json", *extra],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # nothing but the one JSON object on stdout
    result: dict[str, Any] = json.loads(lines[0])
    return result


def test_eval_forms_prints_one_json_object_with_the_fixed_keys(form_set: Path, tmp_path: Path) -> None:
    """GIVEN a generated form set of two layouts, one multi-page scan mixing them
    WHEN `ocr-service eval forms DIR --json` runs THEN stdout is one JSON object with every key of
    the interface, the three truth rows' fields are all scored, and checkboxes and the comb postal
    code are read right."""
    result = _eval_forms(form_set, tmp_path)
    assert result.keys() >= FORM_KEYS
    n_b = len([f for f in SECOND_FIELDS if f["type"] != "choice"])
    assert result["n_scans"] == 2 and result["n_fields"] == 2 * len(FIELDS) + n_b
    assert result["by_type"]["checkbox"]["field_acc"] == 1.0
    assert result["by_type"]["postal"]["field_acc"] == 1.0
    assert 0.0 <= result["auto_accept_error"] <= 1.0 and result["pages_per_s"] > 0


def test_eval_forms_identify_finds_each_page_layout_without_being_told(
    form_set: Path, tmp_path: Path
) -> None:
    """GIVEN the same set WHEN `eval forms DIR --identify --json` runs THEN every page is identified
    as its truth layout (none unidentified), residuals are reported and fields are scored as before."""
    result = _eval_forms(form_set, tmp_path, "--identify")
    assert result.keys() >= FORM_KEYS
    assert result["identify_acc"] == 1.0 and result["n_unidentified"] == 0 and result["n_misidentified"] == 0
    assert result["residual_px"]["max"] is not None
    assert result["by_type"]["postal"]["field_acc"] == 1.0
