"""One canonical YAML form of a layout, so editor save → YAML → load → save gives the same bytes.

Keys follow the model's field order; values equal to their defaults are left out
(a new optional key in the schema does not change old files); floats are written
by PyYAML's shortest round-tripping repr.
"""

from __future__ import annotations

from typing import Any

import yaml

from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import parse_layout_mapping

HEADER = "# yaml-language-server: $schema=../schema/form.schema.json\n# Coordinates: PDF points (1/72 in), origin at the TOP-LEFT of the page.\n"


class _Dumper(yaml.SafeDumper):
    pass


def _flow_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    # Boxes and short lists of scalars read best on one line: box: [129.8, 115.8, 551.2, 146.2].
    flow = all(not isinstance(item, dict | list) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _flow_list)


def layout_to_mapping(layout: FormLayout, *, template: str = "template.pdf") -> dict[str, Any]:
    body = layout.model_dump(mode="json", exclude_defaults=True)
    # code/title/version/fields are always written: a reader should not need the schema defaults.
    mapping: dict[str, Any] = {"code": layout.code, "title": layout.title, "version": layout.version}
    mapping.update({k: v for k, v in body.items() if k not in mapping})
    mapping["template"] = template
    return mapping


def dump_layout_yaml(layout: FormLayout, *, template: str = "template.pdf") -> str:
    """The canonical ``form.yaml`` text of ``layout``."""
    text = yaml.dump(
        layout_to_mapping(layout, template=template),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=200,
        default_flow_style=False,
    )
    return HEADER + text


def load_layout_yaml(text: str, *, origin: str = "form.yaml") -> FormLayout:
    """Parse YAML text in the product schema (raises ``LayoutError`` naming the problem)."""
    from pathlib import Path

    from ocr_service.forms.loader import LayoutError

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LayoutError(f"{origin}: YAMLとして読めません / cannot read YAML: {exc}") from exc
    return parse_layout_mapping(data, origin=Path(origin))
