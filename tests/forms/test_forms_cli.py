"""``ocr-service forms check`` and ``forms test`` on the shipped sample and on an eval-format layout."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ocr_service.cli.main import app
from ocr_service.config import get_settings
from ocr_service.forms.loader import load_layout_file
from tests.conftest import EVAL_DIR, SAMPLE_FORM_DIR

JUMINHYO = EVAL_DIR / "forms" / "dev" / "juminhyo_kofu_seikyu" / "fields.json"
needs_eval = pytest.mark.skipif(not JUMINHYO.is_file(), reason="eval data (../shared/eval) not present")
runner = CliRunner()


@pytest.fixture()
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str) -> Iterator[None]:
    """The CLI reads its settings from OCR_* variables: point them at the test database."""
    monkeypatch.setenv("OCR_DATABASE_URL", pg_url)
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OCR_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _check(path: Path, out: Path) -> np.ndarray:
    result = runner.invoke(app, ["forms", "check", str(path), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and str(out) in result.output
    return np.asarray(Image.open(io.BytesIO(out.read_bytes())).convert("RGB"))


@pytest.mark.parametrize(
    "path", [SAMPLE_FORM_DIR / "form.yaml", pytest.param(JUMINHYO, marks=needs_eval)], ids=["sample", "eval"]
)
def test_check_draws_every_box(path: Path, tmp_path: Path) -> None:
    """GIVEN a valid definition WHEN checked THEN exit 0 and a PNG where every field box is tinted by type."""
    image = _check(path, tmp_path / "check.png")
    source = load_layout_file(path)
    scale = 110 / 72.0
    assert abs(image.shape[0] - source.layout.page_size_pt[1] * scale) <= 1.5
    for spec in source.layout.fields:
        x0, y0, x1, y1 = (round(v * scale) for v in spec.box)
        inner = image[y0 + 3 : y1 - 2, x0 + 3 : x1 - 2].reshape(-1, 3).astype(int)
        # The translucent type colour makes the box interior clearly non-grey.
        spread = (inner.max(axis=1) - inner.min(axis=1)).mean()
        assert spread > 8, f"{spec.name} is not drawn"


def test_check_rejects_a_broken_definition(tmp_path: Path) -> None:
    """GIVEN a form.yaml with an inverted box and an unknown type WHEN checked
    THEN exit 1, the message names file, field and problem, and no PNG is written."""
    (tmp_path / "template.pdf").write_bytes((SAMPLE_FORM_DIR / "template.pdf").read_bytes())
    bad = tmp_path / "form.yaml"
    bad.write_text(
        "code: x\ntitle: t\nfields:\n  - name: when\n    label: 日付\n    box: [9, 1, 2, 5]\n    type: signature\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["forms", "check", str(bad), "--output", str(tmp_path / "x.png")])
    assert result.exit_code == 1
    assert str(bad) in result.output and "fields[0] 'when'.box" in result.output
    assert "fields[0] 'when'.type" in result.output
    assert not (tmp_path / "x.png").exists()


def _publish(path: Path, org: str) -> None:
    created = runner.invoke(app, ["org", "create", org])
    assert created.exit_code == 0, created.output
    imported = runner.invoke(app, ["forms", "import", str(path), "--org", org])
    assert imported.exit_code == 0, imported.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "code"),
    [(SAMPLE_FORM_DIR, "nyuyoji_kenshin"), pytest.param(JUMINHYO, "juminhyo_kofu_seikyu", marks=needs_eval)],
    ids=["sample", "eval"],
)
def test_forms_test_reads_back_synthetic_sheets(path: Path, code: str, cli_env: None) -> None:
    """GIVEN a layout published in the database WHEN `forms test CODE --n 2 --json` runs
    THEN every generated field is scored through the real pipeline and most are read exactly."""
    org = f"試験課{uuid.uuid4().hex[:6]}"
    _publish(path, org)
    result = runner.invoke(app, ["forms", "test", code, "--org", org, "--n", "2", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    layout = load_layout_file(path).layout
    assert report["form"] == f"{code}@v1" and report["n_sheets"] == 2
    assert [row["field"] for row in report["fields"]] == [spec.name for spec in layout.fields]
    assert all(row["n"] == 2 for row in report["fields"])
    assert report["n_fields"] == 2 * len(layout.fields)
    # Clean handwriting fonts: the pipeline must read nearly everything (a broken layout scores near 0).
    assert report["field_acc"] >= 0.9
    table = runner.invoke(app, ["forms", "test", "--layout", str(path), "--n", "1"])
    assert table.exit_code == 0, table.output
    assert "all fields:" in table.output and layout.fields[0].name in table.output
