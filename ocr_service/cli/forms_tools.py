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
    from workers.runtime import recognizer_from_settings, second_opinion_from_settings

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
            second_opinion=second_opinion_from_settings(cfg, recognizer),
        )
    except (FileNotFoundError, ValueError) as exc:
        bar.close()
        fail(str(exc))
        return
    bar.close()
    sys.stderr.flush()
    typer.echo(json.dumps(result, ensure_ascii=False) if as_json else _table(result))


def forms_propose(
    template: Annotated[Path, typer.Argument(help="Blank template PDF (vector or a scan of a blank form)")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: print to stdout)")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="yaml (product form.yaml) or fields-json (evaluation format)")
    ] = "yaml",
    code: Annotated[
        str | None, typer.Option("--code", help="Form code (default: from the file name)")
    ] = None,
    ocr: Annotated[
        bool | None,
        typer.Option(
            "--ocr/--text-layer",
            help="Read labels with PP-OCR / from the PDF text (default: text layer if any)",
        ),
    ] = None,
    score: Annotated[
        Path | None,
        typer.Option(
            "--score", help="A true fields.json: print recall, precision, type and cells accuracy (JSON)"
        ),
    ] = None,
) -> None:
    """Propose every fillable field of a blank form (boxes, comb cells, check boxes, blanks, table cells)."""
    from ocr_service.forms.propose import propose_template
    from ocr_service.forms.propose.output import (
        code_from_filename,
        score_proposals,
        to_fields_json,
        to_layout,
    )
    from ocr_service.forms.yaml_io import dump_layout_yaml

    if fmt not in ("yaml", "fields-json"):
        fail("--format must be yaml or fields-json")
        return
    try:
        pdf = template.read_bytes()
    except OSError as exc:
        fail(f"{template}: cannot read: {exc}")
        return
    form_code = code or (template.parent.name if template.stem == "template" else template.stem)
    form_code = code_from_filename(form_code)
    try:
        proposed = propose_template(pdf, use_ocr=ocr)
    except ValueError as exc:
        fail(f"{template}: {exc}")
        return
    eval_format = to_fields_json(proposed, code=form_code)
    if score is not None:
        truth = json.loads(score.read_text(encoding="utf-8"))
        result = score_proposals(eval_format["fields"], truth["fields"]).as_dict()
        typer.echo(
            json.dumps(
                {"template": str(template), "text_source": proposed.text_source, **result}, ensure_ascii=False
            )
        )
        return
    if fmt == "fields-json":
        text = json.dumps(eval_format, ensure_ascii=False, indent=1) + "\n"
    else:
        text = dump_layout_yaml(to_layout(proposed, code=form_code))
    if output is None:
        typer.echo(text, nl=False)
        return
    partial = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(output)
    typer.echo(
        f"{len(proposed.fields)} field(s) proposed ({proposed.text_source} labels); wrote {output}", err=True
    )
