"""Form definitions: rules in the schema, load errors that name file and field, versions that never change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutError, LayoutSource, load_layout_file, load_yaml_layout
from ocr_service.forms.models import FormDefinition
from ocr_service.forms.service import publish_form_version
from ocr_service.storage.blobs import LocalBlobStore
from tests.conftest import EVAL_DIR, SAMPLE_FORM_DIR
from tests.factories import make_org

JUMINHYO = EVAL_DIR / "forms" / "dev" / "juminhyo_kofu_seikyu" / "fields.json"
SAMPLE_DIR_YAML = SAMPLE_FORM_DIR / "form.yaml"


def _copy_sample(tmp_path: Path, edit: dict[str, object] | None = None) -> Path:
    data = yaml.safe_load((SAMPLE_FORM_DIR / "form.yaml").read_text(encoding="utf-8"))
    data.update(edit or {})
    folder = tmp_path / "form"
    folder.mkdir(exist_ok=True)
    (folder / "template.pdf").write_bytes((SAMPLE_FORM_DIR / "template.pdf").read_bytes())
    (folder / "form.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder / "form.yaml"


def test_shipped_sample_declares_rules_hints_and_cross_rules() -> None:
    """GIVEN the shipped sample WHEN loaded THEN it carries identification hints, field rules and cross rules."""
    layout = load_yaml_layout(SAMPLE_DIR_YAML).layout
    assert layout.identification is not None and "乳幼児健康診査 問診票" in layout.identification.titles
    assert any(spec.rules is not None for spec in layout.fields)
    assert layout.cross_field_rules


def test_load_error_names_file_field_and_problem(tmp_path: Path) -> None:
    """GIVEN a form.yaml with a rule of the wrong type and a bad cell count WHEN loaded
    THEN the message names the file, the field by index and name, and each problem."""
    data = yaml.safe_load(SAMPLE_DIR_YAML.read_text(encoding="utf-8"))
    data["fields"][0]["rules"] = {"digits": "many"}
    data["fields"][1]["cells"] = -1
    path = _copy_sample(tmp_path, {"fields": data["fields"]})
    with pytest.raises(LayoutError) as caught:
        load_yaml_layout(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"fields[0] '{data['fields'][0]['name']}'.rules.digits" in message
    assert f"fields[1] '{data['fields'][1]['name']}'.cells" in message


def test_cross_rule_on_unknown_field_is_refused(tmp_path: Path) -> None:
    """GIVEN a cross-field rule naming a field that does not exist WHEN loaded THEN a clear error."""
    path = _copy_sample(tmp_path, {"cross_field_rules": [{"kind": "before", "field": "x", "other": "y"}]})
    with pytest.raises(LayoutError, match=r"cross_field_rules\[0\] \(before\): unknown field 'x'"):
        load_yaml_layout(path)


def _publish(db: Session, org_id: int, store: LocalBlobStore, path: Path) -> FormDefinition:
    return publish_form_version(db, org_id=org_id, source=load_layout_file(path), store=store)


def test_edit_creates_next_version_and_keeps_the_old_one(
    db: Session, store: LocalBlobStore, tmp_path: Path
) -> None:
    """GIVEN a published form WHEN the identical file is imported THEN no-op; WHEN a rule changes
    THEN version 2 is added and version 1 is byte-for-byte what it was."""
    org = make_org(db)
    path = _copy_sample(tmp_path)
    first = _publish(db, org.id, store, path)
    before = (first.id, json.dumps(first.layout, sort_keys=True), first.layout_sha256)
    assert _publish(db, org.id, store, path).id == first.id
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["fields"][0]["rules"] = {"not_future": True}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    second = _publish(db, org.id, store, path)
    assert (first.version, second.version) == (1, 2) and second.id != first.id
    assert FormLayout.model_validate(second.layout).fields[0].rules is not None
    db.expire_all()
    rows = db.scalars(select(FormDefinition).where(FormDefinition.org_id == org.id)).all()
    assert sorted(r.version for r in rows) == [1, 2]
    old = next(r for r in rows if r.version == 1)
    assert (old.id, json.dumps(old.layout, sort_keys=True), old.layout_sha256) == before
    assert _publish(db, org.id, store, path).id == second.id


def test_digest_ignores_keys_left_at_their_default() -> None:
    """GIVEN a layout, and the same layout with later-added sections spelled out at their defaults
    WHEN digested THEN both digests are equal (re-importing an older form mints no version),
    while a real change to one of those sections changes the digest."""
    from ocr_service.export.profile import ExportProfile
    from ocr_service.forms.service import _layout_digest
    from ocr_service.review.options import ReviewOptions

    layout = (
        load_layout_file(JUMINHYO).layout if JUMINHYO.is_file() else load_yaml_layout(SAMPLE_DIR_YAML).layout
    )
    spelled_out = layout.model_copy(
        update={"identification": None, "cross_field_rules": [], "review": ReviewOptions(),
                "export": ExportProfile()}
    )
    assert _layout_digest(spelled_out) == _layout_digest(layout)
    changed = layout.model_copy(update={"review": ReviewOptions(double_entry=True)})
    assert _layout_digest(changed) != _layout_digest(layout)


@pytest.mark.skipif(not JUMINHYO.is_file(), reason="eval data not present")
def test_eval_fields_json_still_imports(db: Session, store: LocalBlobStore) -> None:
    """GIVEN the eval fields.json format WHEN imported twice THEN one version with every field and no rules."""
    org = make_org(db)
    first = _publish(db, org.id, store, JUMINHYO)
    assert _publish(db, org.id, store, JUMINHYO).id == first.id
    layout = FormLayout.model_validate(first.layout)
    assert layout.code == "juminhyo_kofu_seikyu" and len(layout.fields) == 35
    assert all(spec.rules is None for spec in layout.fields)


def test_a_folder_loads_its_form_yaml() -> None:
    """GIVEN the sample folder (not the file) WHEN loaded THEN its form.yaml and template PDF."""
    source = load_layout_file(SAMPLE_FORM_DIR)
    assert isinstance(source, LayoutSource) and source.template_pdf.startswith(b"%PDF-")


def test_document_keeps_the_version_it_was_read_with(
    db: Session, store: LocalBlobStore, tmp_path: Path
) -> None:
    """GIVEN a document read with version 1 WHEN version 2 is published THEN the document still points at
    version 1, whose layout is unchanged."""
    from tests.factories import make_user
    from tests.helpers import make_recognized_document

    org = make_org(db)
    path = _copy_sample(tmp_path)
    first = _publish(db, org.id, store, path)
    document = make_recognized_document(
        db, user=make_user(db, org), form=first, store=store, values={"child_name": "山田太郎"}
    )
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["fields"][0]["label"] = "記入年月日"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    second = _publish(db, org.id, store, path)
    db.expire_all()
    assert second.version == 2
    assert document.form_id == first.id
    assert FormLayout.model_validate(first.layout).fields[0].label == "記入日"
