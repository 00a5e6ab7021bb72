"""``ocr-service calibrate --from-reviews``: refit confidence calibration on review outcomes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ocr_service.cli.common import fail, resolve_org, settings, system_session
from ocr_service.review.outcomes import outcome_rows, residual_error_by_form


def calibrate(
    from_reviews: Annotated[
        bool, typer.Option("--from-reviews", help="Refit from confirmed fields' outcomes (no values are kept)")
    ] = False,
    org: Annotated[str | None, typer.Option("--org", help="Only this organisation's outcomes")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write (default: DATA_DIR/calibration.json)")] = None,
    min_fields: Annotated[int, typer.Option("--min-fields", help="Least outcomes a group needs to be refitted")] = 50,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only, write nothing")] = False,
) -> None:
    """Refit the auto-accept calibration so the threshold tracks the measured residual error.

    Evaluation sets are calibrated with benchmarks/calibrate.py; this command uses what
    reviewers did with real forms. Workers read DATA_DIR/calibration.json at start.
    """
    from workers.pipeline.calibration import accept_stats, field_group, refit_from_outcomes
    from workers.runtime import calibration_path, calibrator_from_settings

    if not from_reviews:
        fail("--from-reviews を指定してください（評価セットからの較正は benchmarks/calibrate.py）")
    cfg = settings()
    with system_session(cfg) as db:
        org_id = resolve_org(db, org).id if org is not None else None
        rows = outcome_rows(db, org_id=org_id)
    if not rows:
        fail("確認済みの項目の記録がありません（文書を確認すると記録されます）")
    base = calibrator_from_settings(cfg)
    fit_rows = [(field_group(r.field_type, empty=r.read_empty), r.confidence, not r.corrected) for r in rows]
    refitted = refit_from_outcomes(base, fit_rows, min_fields=min_fields)
    threshold = cfg.confidence_threshold
    target = out or calibration_path(cfg)
    report = {
        "n_outcomes": len(rows),
        "threshold": threshold,
        "before": accept_stats([r.confidence for r in rows], [not r.corrected for r in rows], threshold),
        "by_form": residual_error_by_form(rows, threshold=threshold),
        "refitted_groups": refitted.meta.get("refitted_from_reviews", {}),
        "written": None if dry_run else str(target),
    }
    if not dry_run:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(".tmp")
        temp.write_text(json.dumps(refitted.to_json(), indent=1) + "\n", encoding="utf-8")
        temp.replace(target)
    typer.echo(json.dumps(report, ensure_ascii=False))
