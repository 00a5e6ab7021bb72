"""Read form layouts from files: the product's YAML schema and the eval ``fields.json`` format.

Errors name the file and the problem so an administrator can fix the layout
without reading a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ocr_service.forms.layout import FIELD_TYPES, FormLayout

_CODE_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"


class LayoutError(ValueError):
    """A layout file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class LayoutSource:
    """A parsed layout plus the template PDF that belongs to it."""

    layout: FormLayout
    template_pdf: bytes
    origin: Path


def _location(loc: tuple[int | str, ...], data: Any) -> str:
    """``fields[3] 'birth_date'.rules.digits`` from pydantic's ``('fields', 3, 'rules', 'digits')``."""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]"]
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                parts[-1] += f" '{node['name']}'"
        else:
            parts.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts) or "layout"


def _format_validation_error(origin: Path, exc: ValidationError, data: Any = None) -> str:
    problems = []
    for err in exc.errors():
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"{_location(err['loc'], data)}: {message}")
    return f"{origin}: invalid layout: " + "; ".join(problems)


def _read_text(path: Path, kind: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LayoutError(
            f"{path}: not valid UTF-8 at byte {exc.start} (the file may be cut off or saved in another "
            "encoding; save it as UTF-8)"
        ) from exc
    except OSError as exc:
        raise LayoutError(f"{path}: cannot read {kind}: {exc.strerror or exc}") from exc


def _read_template(origin: Path, template_name: str) -> bytes:
    # The template name comes from the layout file, so keep it inside the layout's folder.
    template_path = (origin.parent / template_name).resolve()
    if origin.parent.resolve() not in template_path.parents:
        raise LayoutError(f"{origin}: template '{template_name}' must be inside the layout folder")
    if not template_path.is_file():
        raise LayoutError(f"{origin}: template PDF '{template_name}' not found beside the layout")
    data = template_path.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise LayoutError(f"{template_path}: template is not a PDF file")
    return data


def parse_layout_mapping(data: Any, *, origin: Path) -> FormLayout:
    """Validate a mapping in the product schema (as loaded from YAML or JSON)."""
    if not isinstance(data, dict):
        raise LayoutError(f"{origin}: top level must be a mapping")
    body = {k: v for k, v in data.items() if k not in ("template", "$schema")}
    try:
        return FormLayout.model_validate(body)
    except ValidationError as exc:
        raise LayoutError(_format_validation_error(origin, exc, body)) from exc


def load_yaml_layout(path: Path) -> LayoutSource:
    """Load ``form.yaml`` (product schema) and its template PDF."""
    text = _read_text(path, "YAML")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LayoutError(f"{path}: cannot read YAML: {exc}") from exc
    layout = parse_layout_mapping(data, origin=path)
    template_name = data.get("template", "template.pdf")
    if not isinstance(template_name, str):
        raise LayoutError(f"{path}: 'template' must be a file name")
    return LayoutSource(layout=layout, template_pdf=_read_template(path, template_name), origin=path)


def layout_from_eval_fields(data: Any, *, origin: Path) -> FormLayout:
    """Convert the evaluation ``fields.json`` format into a layout.

    That format has ``layout``, ``title``, ``page_size_pt`` and fields with
    ``bbox_pt``, ``type`` and ``cells``; everything else takes defaults.
    """
    if not isinstance(data, dict) or not isinstance(data.get("fields"), list):
        raise LayoutError(f"{origin}: expected an object with a 'fields' list")
    raw_code = str(data.get("layout") or origin.parent.name).lower()
    code = "".join(ch if ch in _CODE_CHARS else "_" for ch in raw_code)
    fields = []
    problems = []
    for index, raw in enumerate(data["fields"]):
        if not isinstance(raw, dict):
            problems.append(f"fields[{index}] must be an object")
            continue
        field_type = raw.get("type", "text")
        if field_type not in FIELD_TYPES:
            problems.append(f"fields[{index}] ('{raw.get('name')}') has unknown type '{field_type}'")
            continue
        fields.append(
            {
                "name": raw.get("name"),
                "label": raw.get("label") or raw.get("name"),
                "box": raw.get("bbox_pt"),
                "type": field_type,
                "cells": raw.get("cells", 0) or 0,
                "page": raw.get("page", 1),
                "multiline": bool(raw.get("multiline", False)),
            }
        )
    if problems:
        raise LayoutError(f"{origin}: invalid layout: " + "; ".join(problems))
    mapping = {
        "code": code,
        "title": data.get("title") or code,
        "version": 1,
        "page_size_pt": data.get("page_size_pt", [595.28, 841.89]),
        "pages": max([1] + [int(f["page"]) for f in fields if isinstance(f.get("page"), int)]),
        "fields": fields,
    }
    return parse_layout_mapping(mapping, origin=origin)


def load_eval_layout(fields_json: Path) -> LayoutSource:
    """Load an eval-format ``fields.json`` with the ``template.pdf`` beside it."""
    text = _read_text(fields_json, "JSON")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LayoutError(f"{fields_json}: cannot read JSON: {exc}") from exc
    layout = layout_from_eval_fields(data, origin=fields_json)
    return LayoutSource(
        layout=layout, template_pdf=_read_template(fields_json, "template.pdf"), origin=fields_json
    )


def load_layout_file(path: Path) -> LayoutSource:
    """Load either format, chosen by the file name."""
    if path.is_dir():
        for candidate in ("form.yaml", "form.yml", "fields.json"):
            if (path / candidate).is_file():
                return load_layout_file(path / candidate)
        raise LayoutError(f"{path}: no form.yaml or fields.json in this folder")
    if path.suffix.lower() == ".json":
        return load_eval_layout(path)
    return load_yaml_layout(path)
