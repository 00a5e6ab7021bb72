"""Proposals as the evaluation ``fields.json``, as a product layout, and scored against a true layout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ocr_service.forms.layout import FormLayout
from ocr_service.forms.propose import ProposedTemplate
from ocr_service.forms.propose.scene import iou

Box = tuple[float, float, float, float]


def to_fields_json(proposed: ProposedTemplate, *, code: str) -> dict[str, Any]:
    """Exactly the evaluation format: layout, title, page_size_pt, fields (name, label, bbox_pt, type, cells)."""
    fields = []
    for p in proposed.fields:
        entry: dict[str, Any] = {
            "name": p.name,
            "label": p.label,
            "bbox_pt": list(p.box),
            "type": p.type,
            "cells": p.cells,
        }
        if proposed.pages > 1:
            entry["page"] = p.page
        fields.append(entry)
    return {
        "layout": code,
        "title": proposed.title or code,
        "page_size_pt": list(proposed.page_size_pt),
        "fields": fields,
    }


def _unique_columns(labels: list[str]) -> list[str | None]:
    seen: dict[str, int] = {}
    columns: list[str | None] = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        columns.append(None if seen[label] == 1 else f"{label}（{seen[label]}）")
    return columns


def code_from_filename(stem: str) -> str:
    code = re.sub(r"[^a-z0-9_\-]+", "_", stem.lower()).strip("_-")
    return code if code and code[0].isalnum() else f"form_{code}".rstrip("_")


def to_layout(proposed: ProposedTemplate, *, code: str) -> FormLayout:
    """A product layout: every proposal a field, a unique CSV column each, exclusive check boxes ruled at_most_one."""
    labels = [p.label for p in proposed.fields]
    fields = []
    for p, column in zip(proposed.fields, _unique_columns(labels), strict=True):
        spec: dict[str, Any] = {
            "name": p.name,
            "label": p.label,
            "box": list(p.box),
            "type": p.type,
            "page": p.page,
        }
        if p.cells:
            spec["cells"] = p.cells
        if p.multiline:
            spec["multiline"] = True
        if p.options:
            spec["options"] = [{"value": value, "box": list(box)} for value, box in p.options]
        if column:
            spec["csv_column"] = column
        if p.type == "digits" and p.cells == 12 and ("個人番号" in p.label or "マイナンバー" in p.label):
            spec["rules"] = {"digits": 12, "check_digit": "my_number"}
        fields.append(spec)
    rules = [{"kind": "at_most_one", "fields": names} for names in proposed.exclusive_groups]
    identification: dict[str, list[str]] = {}
    if proposed.title:
        identification["titles"] = [proposed.title]
    if proposed.form_codes:
        identification["form_codes"] = proposed.form_codes
    return FormLayout.model_validate(
        {
            "code": code,
            "title": proposed.title or code,
            "page_size_pt": list(proposed.page_size_pt),
            "pages": proposed.pages,
            "fields": fields,
            "cross_field_rules": rules,
            "identification": identification or None,
        }
    )


@dataclass(frozen=True)
class ProposalScore:
    """Proposals against a true layout: a proposal matches a true field at IoU >= 0.5 (one to one)."""

    n_true: int
    n_proposed: int
    matched: int
    type_correct: int
    cells_total: int
    cells_correct: int
    missed: tuple[str, ...]
    wrong_type: tuple[str, ...]

    @property
    def recall(self) -> float:
        return self.matched / self.n_true if self.n_true else 0.0

    @property
    def precision(self) -> float:
        return self.matched / self.n_proposed if self.n_proposed else 0.0

    @property
    def type_accuracy(self) -> float:
        return self.type_correct / self.matched if self.matched else 0.0

    @property
    def cells_accuracy(self) -> float:
        return self.cells_correct / self.cells_total if self.cells_total else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_true": self.n_true,
            "n_proposed": self.n_proposed,
            "matched": self.matched,
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
            "type_accuracy": round(self.type_accuracy, 4),
            "comb_fields": self.cells_total,
            "cells_accuracy": round(self.cells_accuracy, 4),
            "missed": list(self.missed),
            "wrong_type": list(self.wrong_type),
        }


def score_proposals(proposed: list[dict[str, Any]], truth: list[dict[str, Any]]) -> ProposalScore:
    """Both lists in the eval format (``bbox_pt``, ``type``, ``cells``, optional ``page``)."""
    pairs = []
    for i, p in enumerate(proposed):
        for j, t in enumerate(truth):
            if p.get("page", 1) != t.get("page", 1):
                continue
            overlap = iou(tuple(p["bbox_pt"]), tuple(t["bbox_pt"]))
            if overlap >= 0.5:
                pairs.append((overlap, i, j))
    used_p: set[int] = set()
    used_t: dict[int, int] = {}
    for _overlap, i, j in sorted(pairs, reverse=True):
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t[j] = i
    type_ok = sum(proposed[i]["type"] == truth[j]["type"] for j, i in used_t.items())
    comb = [
        (j, i) for j, i in used_t.items() if (truth[j].get("cells") or 0) or (proposed[i].get("cells") or 0)
    ]
    cells_ok = sum((truth[j].get("cells") or 0) == (proposed[i].get("cells") or 0) for j, i in comb)
    return ProposalScore(
        n_true=len(truth),
        n_proposed=len(proposed),
        matched=len(used_t),
        type_correct=type_ok,
        cells_total=len(comb),
        cells_correct=cells_ok,
        missed=tuple(str(truth[j].get("name")) for j in range(len(truth)) if j not in used_t),
        wrong_type=tuple(
            f"{truth[j].get('name')}: {proposed[i]['type']}≠{truth[j]['type']}"
            for j, i in used_t.items()
            if proposed[i]["type"] != truth[j]["type"]
        ),
    )
