"""Review outcomes: recorded on confirm without values or images; ``calibrate --from-reviews`` refits on them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ocr_service.cli.main import app
from ocr_service.config import get_settings
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import FieldResult
from ocr_service.documents.sealing import open_read_value
from ocr_service.orgs.service import get_or_create_organisation
from ocr_service.review.outcomes import FieldOutcome
from ocr_service.storage.blobs import BlobStore
from tests.factories import login, make_form, make_org, make_user
from tests.helpers import make_recognized_document
from tests.test_review_api import checked_layout
from workers.pipeline.calibration import Calibrator, load_calibration, refit_from_outcomes

VALUES: dict[str, str | bool] = {"name": "山田太郎", "postal": "100-0001", "born": "令和7年5月12日", "agree": True}


def test_confirm_records_one_value_free_outcome_per_field(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN a recognised document whose name the reviewer corrects (太郎 → 太朗)
    WHEN it is confirmed THEN one outcome per field: the name corrected at edit distance 1, the others
    accepted unchanged, each with form, type and the machine's confidence; the outcome table has no
    column for a value, a crop or a document, and no outcome holds any of the values."""
    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store, checked_layout())
    document = make_recognized_document(
        db, user=user, form=form, store=store, values=VALUES, confidences={"name": 0.6}
    )
    set_scope(db, SYSTEM_SCOPE)
    name = db.scalar(select(FieldResult).where(FieldResult.document_id == document.id, FieldResult.field_name == "name"))
    assert name is not None and open_read_value(db, name) == "山田太郎"
    assert "山田" not in (name.read_value_sealed or "")  # the machine value is sealed like the value
    db.commit()
    login(client, user)
    saved = client.patch(
        f"/api/v1/review/documents/{document.id}/fields/{name.id}", json={"value": "山田太朗", "version": 1}
    )
    assert saved.status_code == 200, saved.text
    confirmed = client.post(f"/api/v1/review/documents/{document.id}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed", confirmed.text

    set_scope(db, SYSTEM_SCOPE)
    outcomes = {o.field_name: o for o in db.scalars(select(FieldOutcome).where(FieldOutcome.org_id == org.id))}
    assert set(outcomes) == set(VALUES)
    assert (outcomes["name"].corrected, outcomes["name"].edit_distance) == (True, 1)
    assert abs(outcomes["name"].confidence - 0.6) < 1e-9
    assert all(not o.corrected and o.edit_distance == 0 for k, o in outcomes.items() if k != "name")
    assert {o.field_type for o in outcomes.values()} == {"text", "postal", "date", "checkbox"}
    assert {o.form_code for o in outcomes.values()} == {"checked"}

    columns = {c["name"] for c in inspect(db.connection()).get_columns("field_outcomes")}
    assert columns == {
        "id", "org_id", "form_id", "form_code", "field_name", "field_type", "confidence",
        "read_empty", "corrected", "edit_distance", "created_at",
    }
    foreign = {fk["referred_table"] for fk in inspect(db.connection()).get_foreign_keys("field_outcomes")}
    assert foreign == {"organisations", "form_definitions"}  # rows outlive documents and crops
    stored = " ".join(
        str(getattr(o, c)) for o in outcomes.values() for c in columns if isinstance(getattr(o, c), str)
    )
    for value in ("山田", "太郎", "太朗", "100-0001", "1000001", "令和7年"):
        assert value not in stored


def test_refit_from_outcomes_follows_the_measured_error() -> None:
    """GIVEN an installed map that calls raw 0.9 → 0.97 for text, and 300 outcomes at 0.97 of which 10 %
    were corrected WHEN refitted THEN raw 0.9 maps to about 0.9 (under the 0.95 threshold); a group with
    too few outcomes keeps its map."""
    base = Calibrator({"text": ([0.0, 0.9, 1.0], [0.0, 0.97, 0.99]), "kana": ([0.0, 1.0], [0.0, 0.99])})
    rows = [("text", 0.97, i % 10 != 0) for i in range(300)] + [("kana", 0.99, False)] * 5
    refitted = refit_from_outcomes(base, rows, min_fields=50)
    assert 0.85 < refitted("text", 0.9) < 0.93
    assert refitted.maps["kana"] == base.maps["kana"]
    assert refitted.meta["refitted_from_reviews"] == {"text": 300}


@pytest.fixture()
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str) -> Iterator[None]:
    monkeypatch.setenv("OCR_DATABASE_URL", pg_url)
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OCR_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_calibrate_from_reviews_on_synthetic_outcomes(cli_env: None, pg_url: str, tmp_path: Path) -> None:
    """GIVEN 400 synthetic text outcomes of one organisation at calibrated 0.97 with 8 % corrected, and another
    organisation's perfect outcomes WHEN `ocr-service calibrate --from-reviews --org` runs THEN it reports only
    that organisation's residual error per form and writes a calibration under which those fields fall below
    the threshold; without --from-reviews it refuses."""
    engine = create_engine(pg_url)
    names = (f"較正課{uuid.uuid4().hex[:6]}", f"他課{uuid.uuid4().hex[:6]}")
    try:
        with sessionmaker(bind=engine)() as session:
            set_scope(session, SYSTEM_SCOPE)
            mine, other = (get_or_create_organisation(session, name=n) for n in names)
            base = load_calibration()
            raw = 0.995
            calibrated = base("text", raw)
            for i in range(400):
                session.add(
                    FieldOutcome(
                        org_id=mine.id, form_code="juminhyo", field_name="address", field_type="text",
                        confidence=calibrated, corrected=i % 25 < 2, edit_distance=1 if i % 25 < 2 else 0,
                    )
                )
                session.add(
                    FieldOutcome(
                        org_id=other.id, form_code="other", field_name="address", field_type="text",
                        confidence=calibrated, corrected=False, edit_distance=0,
                    )
                )
            session.commit()
    finally:
        engine.dispose()
    runner = CliRunner()
    refused = runner.invoke(app, ["calibrate"])
    assert refused.exit_code != 0
    out = tmp_path / "site-calibration.json"
    result = runner.invoke(app, ["calibrate", "--from-reviews", "--org", names[0], "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["n_outcomes"] == 400 and set(report["by_form"]) == {"juminhyo"}
    assert abs(report["by_form"]["juminhyo"]["corrected_rate"] - 0.08) < 1e-9
    assert report["refitted_groups"] == {"text": 400}
    refitted = load_calibration(out)
    assert calibrated >= 0.95 > refitted("text", raw)
    assert refitted.maps["checkbox"] == base.maps["checkbox"]
