"""Generate ``form.schema.json`` (JSON Schema draft 2020-12) for ``form.yaml`` files.

The schema is derived from the pydantic model ``ocr_service.forms.layout.FormLayout``
(the contract) plus the keys that only the YAML file carries (``template`` and an
optional ``$schema``). Run from the repository root::

    python form_definitions/schema/generate.py          # rewrite form.schema.json
    python form_definitions/schema/generate.py --check  # exit 1 if it is out of date

Rules the model enforces in code and JSON Schema cannot express (unique field
names, boxes with x1 > x0 and y1 > y0, boxes inside the page, ``page`` <= ``pages``)
are stated in the descriptions; ``load_yaml_layout`` still checks them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCHEMA_PATH = HERE / "form.schema.json"
REPO_ROOT = HERE.parent.parent

SCHEMA_ID = "https://ocr-service.invalid/schemas/form.schema.json"


def build_schema() -> dict[str, Any]:
    """The JSON Schema for one ``form.yaml`` (a published form definition version)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from ocr_service.forms.layout import FormLayout

    model = FormLayout.model_json_schema()
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Form definition (form.yaml)",
        "description": (
            "One version of a form definition: template page size and every field box. "
            "Boxes are [x0, y0, x1, y1] in PDF points (1/72 inch) with the origin at the TOP-LEFT "
            "corner of the template page. Field names must be unique; every box must satisfy "
            "x1 > x0, y1 > y0 and lie inside page_size_pt; a field's page must be <= pages; rules must fit "
            "their field's type and cross-field rules must name existing fields. "
            "Generated from ocr_service.forms.layout.FormLayout by form_definitions/schema/generate.py."
        ),
    }
    for key, value in model.items():
        if key not in ("title", "description"):
            schema[key] = value

    properties: dict[str, Any] = schema["properties"]
    properties["$schema"] = {
        "type": "string",
        "description": "Optional: path or URL of this schema, for editors. Ignored by the loader.",
    }
    properties["template"] = {
        "type": "string",
        "default": "template.pdf",
        "pattern": r"^[^/\\]+\.pdf$",
        "description": "File name of the blank template PDF, in the same folder as form.yaml.",
    }
    properties["version"]["description"] = (
        "Definition version. A published version is immutable: any change to boxes or fields "
        "is a new version with a higher number."
    )
    properties["page_size_pt"]["description"] = "Template page width and height in PDF points (A4 portrait)."
    properties["pages"]["description"] = "Number of template pages."
    properties["code"]["description"] = (
        "Stable form code (lower case, digits, '_' or '-'); same for all versions."
    )
    properties["title"]["description"] = "Form title (Japanese) shown in the UI."
    properties["identification"]["description"] = (
        "Printed text that identifies the form on a scan (form numbers such as 様式第3号, titles); "
        "used by form identification."
    )
    properties["cross_field_rules"]["description"] = (
        "Rules across fields, checked per page after reading: before (date order), equal_if, "
        "required_if, at_most_one / exactly_one (checkboxes). Every named field must exist; "
        "before needs date fields, at_most_one / exactly_one need checkboxes."
    )

    field_props: dict[str, Any] = schema["$defs"]["FieldSpec"]["properties"]
    for item in field_props["box"]["prefixItems"]:
        item["minimum"] = 0
    field_props["type"]["description"] = (
        "Character type; drives the recognition charset and validation. checkbox fields read as true/false."
    )
    field_props["multiline"]["description"] = "Free text that may run over several lines inside the box."
    field_props["required"]["description"] = "An empty reading is flagged for review."
    field_props["rules"]["description"] = (
        "Validation rules on top of the type. Type-specific keys: date_min, date_max, not_future, eras "
        "(date); min_value, max_value, check_digit (digits); phone_kinds (phone); digits (digits, phone, "
        "postal). Checkbox fields take no rules."
    )
    field_props["cells"]["description"] = (
        "Comb cells: the box is divided into this many EQUAL-width cells, one character each "
        "(0 = free writing)."
    )
    return schema


def render_schema() -> str:
    return json.dumps(build_schema(), ensure_ascii=False, indent=2) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    text = render_schema()
    if "--check" in args:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.is_file() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
