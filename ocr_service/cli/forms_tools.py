"""``forms check`` (validate a definition, draw its boxes) and ``forms test`` (synthetic read-back)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ocr_service.cli.common import fail, settings
from ocr_service.forms.loader import LayoutError, load_layout_file


def forms_check(
    file: Annotated[Path, typer.Argument(help="form.yaml, eval fields.json, or their folder")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="PNG to write (default: <code>-check.png in the current folder)"),
    ] = None,
) -> None:
    """Validate a form definition and draw every field box, numbered and labelled, on its template (PNG)."""
    from ocr_service.forms.preview import render_layout_preview

    try:
        source = load_layout_file(file)
    except LayoutError as exc:
        fail(str(exc))
        return
    layout = source.layout
    target = output or Path(f"{layout.code}-check.png")
    png = render_layout_preview(layout, source.template_pdf)
    # Temp file then rename: a half-written PNG never replaces a good one.
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_bytes(png)
    partial.replace(target)
    counts: dict[str, int] = {}
    for spec in layout.fields:
        counts[spec.type] = counts.get(spec.type, 0) + 1
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    typer.echo(f"{source.origin}: OK — {layout.code} v{layout.version} 「{layout.title}」")
    typer.echo(f"  {len(layout.fields)} fields ({kinds}); {layout.pages} page(s)")
    ruled = sum(spec.rules is not None for spec in layout.fields)
    typer.echo(f"  {ruled} field(s) with rules, {len(layout.cross_field_rules)} cross-field rule(s)")
    typer.echo(f"  wrote {target}")


def _table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['form']}: {result['n_sheets']} synthetic sheet(s), seed {result['seed']}, "
        f"fonts {', '.join(result['fonts'])}",
        f"{'field':<28} {'type':<9} {'n':>4} {'acc':>7} {'auto':>5} {'auto✗':>6} {'invalid':>7}",
    ]
    for row in result["fields"]:
        lines.append(
            f"{row['field']:<28} {row['type']:<9} {row['n']:>4} {row['field_acc']:>7.1%} "
            f"{row['auto_accepted']:>5} {row['auto_accept_errors']:>6} {row['invalid']:>7}"
        )
    lines.append(
        f"all fields: {result['field_acc']:.1%} exact, auto-accepted {result['auto_accept_rate']:.1%} "
        f"with {result['auto_accept_error']:.1%} wrong (threshold {result['threshold']})"
    )
    if result["skipped_fields"]:
        lines.append("not generated (type not supported): " + ", ".join(result["skipped_fields"]))
    return "\n".join(lines)


def forms_test(
    code: Annotated[str | None, typer.Argument(help="Published form code (latest version)")] = None,
    n: Annotated[int, typer.Option("--n", min=1, max=1000, help="Number of synthetic sheets")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed → same sheets)")] = 0,
    layout: Annotated[
        Path | None,
        typer.Option("--layout", help="Test this form.yaml / fields.json instead of the database"),
    ] = None,
    org: Annotated[str | None, typer.Option("--org", help="Organisation whose forms to use")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only")] = False,
) -> None:
    """Fill the layout CODE with random valid values in handwriting fonts, scan it synthetically,
    read it with the real pipeline and print per-field accuracy."""
    from ocr_service.cli.ocr import _layout_from_db, _progress_bar
    from workers.pipeline.trial import run_synthetic_trial
    from workers.runtime import recognizer_from_settings

    if (code is None) == (layout is None):
        fail("pass a form CODE or --layout FILE (one of them)")
        return
    if layout is not None:
        try:
            source = load_layout_file(layout)
        except LayoutError as exc:
            fail(str(exc))
            return
        form_layout, template_pdf = source.layout, source.template_pdf
    else:
        form_layout, template_pdf = _layout_from_db(code, org)
    cfg = settings()
    recognizer = recognizer_from_settings(cfg)
    bar, progress = _progress_bar("sheets")
    try:
        result = run_synthetic_trial(
            form_layout,
            template_pdf,
            recognizer=recognizer,
            n=n,
            seed=seed,
            dpi=cfg.raster_dpi,
            threshold=cfg.confidence_threshold,
            progress=progress,
        )
    except (FileNotFoundError, ValueError) as exc:
        bar.close()
        fail(str(exc))
        return
    bar.close()
    sys.stderr.flush()
    typer.echo(json.dumps(result, ensure_ascii=False) if as_json else _table(result))
