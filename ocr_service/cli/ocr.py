"""Local OCR commands: ``process`` (one PDF) and ``eval lines`` / ``eval forms`` (benchmarks on eval sets)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm

from ocr_service.cli.common import blob_store, fail, resolve_org, settings, system_session
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutError, load_layout_file
from ocr_service.keys.service import installation_key

eval_app = typer.Typer(help="Measure recognition on evaluation sets (JSON on stdout).", no_args_is_help=True)


def _layout_from_db(code: str | None, org_name: str | None) -> tuple[FormLayout, bytes]:
    from ocr_service.db.scoping import OrgScope, set_scope
    from ocr_service.forms.service import FormNotFoundError, get_latest_form, layout_of, list_latest_forms

    cfg = settings()
    with system_session(cfg) as db:
        set_scope(db, OrgScope(resolve_org(db, org_name).id))
        if code:
            try:
                form = get_latest_form(db, code=code)
            except FormNotFoundError:
                raise typer.BadParameter(
                    f"form '{code}' is not imported (see 'ocr-service forms import')"
                ) from None
        else:
            forms = list_latest_forms(db)
            if len(forms) != 1:
                raise typer.BadParameter("pass --form CODE: " + ", ".join(f.code for f in forms))
            form = forms[0]
        return layout_of(form), blob_store(cfg).get(form.template_blob_key, dek=installation_key(db))


def _all_layouts_from_db(org_name: str | None) -> list[tuple[FormLayout, bytes]]:
    from ocr_service.db.scoping import OrgScope, set_scope
    from ocr_service.forms.service import layout_of, list_latest_forms

    cfg = settings()
    with system_session(cfg) as db:
        set_scope(db, OrgScope(resolve_org(db, org_name).id))
        store = blob_store(cfg)
        key = installation_key(db)
        return [(layout_of(f), store.get(f.template_blob_key, dek=key)) for f in list_latest_forms(db)]


def process(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Scanned PDF")],
    form: Annotated[str | None, typer.Option("--form", help="Form code imported in the database")] = None,
    layout: Annotated[
        Path | None, typer.Option("--layout", help="Use this form.yaml / fields.json instead of the database")
    ] = None,
    org: Annotated[str | None, typer.Option("--org", help="Organisation whose forms to use")] = None,
) -> None:
    """Run the recognition pipeline on FILE locally and print the field values as JSON."""
    from workers.pipeline.document import NamedLayout, ReadAgainst, read_pdf
    from workers.pipeline.identify import candidates_for
    from workers.pipeline.raster import RasterError
    from workers.runtime import pipeline_from_settings

    cfg = settings()
    choices: list[tuple[FormLayout, bytes]] = []
    if layout is not None:
        try:
            source = load_layout_file(layout)
        except LayoutError as exc:
            fail(str(exc))
            return
        choices = [(source.layout, source.template_pdf)]
    elif form is not None:
        choices = [_layout_from_db(form, org)]
    else:
        # No form named: identify every page among the organisation's forms, as an upload does.
        choices = _all_layouts_from_db(org)
        if not choices:
            fail("no form is imported (see 'ocr-service forms import')")
            return
    pipeline = pipeline_from_settings(cfg)
    bar, progress = _progress_bar("pages")
    try:
        against: ReadAgainst
        if len(choices) == 1:
            against = NamedLayout.from_template(choices[0][0], choices[0][1], dpi=cfg.raster_dpi)
        else:
            against = [
                c
                for lay, pdf in choices
                for c in candidates_for(
                    key=f"{lay.code}@v{lay.version}", layout=lay, template_pdf=pdf, dpi=cfg.raster_dpi
                )
            ]
        readings = read_pdf(file.read_bytes(), against, pipeline=pipeline, progress=progress)
    except RasterError as exc:
        bar.close()
        fail(str(exc))
        return
    bar.close()
    named = f"{choices[0][0].code}@v{choices[0][0].version}" if len(choices) == 1 else None
    out: dict[str, Any] = {"file": str(file), "form": named, "pages": []}
    for page in readings:
        out["pages"].append(
            {
                "page": page.page_no,
                "form": page.form_key or (named if page.status != "blank" else None),
                "status": page.status,
                "reason": page.reason,
                "fields": {f.name: f.value for f in page.fields},
                "confidence": {f.name: round(f.confidence, 4) for f in page.fields},
                "flags": {f.name: f.reason for f in page.fields if f.status not in ("ok", "empty")},
            }
        )
    if layout is None:
        _audit_local_run(org, file=file, pages=len(readings), forms=[c[0].code for c in choices])
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))


def _audit_local_run(org_name: str | None, *, file: Path, pages: int, forms: list[str]) -> None:
    """A local run with the organisation's forms reads a scan outside the service: it is audited too."""
    from ocr_service.audit.service import audit, cli_principal

    with system_session(settings()) as db:
        org_id = resolve_org(db, org_name).id
        audit(
            db,
            cli_principal(),
            "document.process_local",
            obj_type="file",
            obj_id=file.name[:64],
            org_id=org_id,
            form_code=forms[0] if len(forms) == 1 else "",
            detail={"pages": pages, "forms": forms},
        )
        db.commit()


def _progress_bar(desc: str) -> tuple[tqdm[Any], Any]:
    bar: tqdm[Any] = tqdm(total=0, desc=desc, file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, progress


@eval_app.command("lines")
def eval_lines(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Line set folder")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only")] = False,
    no_constraints: Annotated[
        bool, typer.Option("--no-constraints", help="Ignore the charset column")
    ] = False,
) -> None:
    """CER and line accuracy of the recogniser on a line set."""
    from workers.pipeline.evaluate import evaluate_line_set
    from workers.runtime import recognizer_from_settings

    cfg = settings()
    recognizer = recognizer_from_settings(cfg)
    result = evaluate_line_set(directory, recognizer=recognizer, constrained=not no_constraints)
    typer.echo(
        json.dumps(result, ensure_ascii=False)
        if as_json
        else json.dumps(result, ensure_ascii=False, indent=2)
    )


@eval_app.command("forms")
def eval_forms(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Form set folder")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only")] = False,
    identify: Annotated[
        bool,
        typer.Option("--identify", help="Do not tell the pipeline the layout: identify every page among all"),
    ] = False,
) -> None:
    """Field accuracy, character accuracy and auto-accept rate on a form set, end to end."""
    from workers.pipeline.evaluate import evaluate_form_set
    from workers.pipeline.evaluate_identify import evaluate_form_set_identified
    from workers.runtime import recognizer_from_settings, second_opinion_from_settings

    cfg = settings()
    recognizer = recognizer_from_settings(cfg)
    bar, progress = _progress_bar("scans")
    result = (evaluate_form_set_identified if identify else evaluate_form_set)(
        directory,
        recognizer=recognizer,
        second_opinion=second_opinion_from_settings(cfg, recognizer),
        dpi=cfg.raster_dpi,
        progress=progress,
        threshold=cfg.confidence_threshold,
    )
    bar.close()
    typer.echo(
        json.dumps(result, ensure_ascii=False)
        if as_json
        else json.dumps(result, ensure_ascii=False, indent=2)
    )
