"""``ocr-service models``: installed recognition model sets and bundles for air-gapped sites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ocr_service.cli.common import fail, settings

models_app = typer.Typer(
    help="Recognition model sets: list, export and import bundles.", no_args_is_help=True
)


@models_app.command("list")
def list_sets(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Installed model sets with the sha256 of every file and where they came from."""
    from workers.pipeline.models import list_model_sets

    cfg = settings()
    rows = [
        {
            "name": m.name,
            "selected": m.name == cfg.ocr_model_set and cfg.ocr_model_dir is None,
            "source": m.source,
            "path": str(m.path),
            "files": m.files,
        }
        for m in list_model_sets(cfg.data_dir)
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        mark = "*" if row["selected"] else " "
        typer.echo(f"{mark} {row['name']}  ({row['source']})  {row['path']}")
        for name, digest in dict(row["files"]).items():  # type: ignore[call-overload]
            typer.echo(f"      {digest}  {name}")


@models_app.command("export")
def export(
    bundle: Annotated[Path, typer.Argument(dir_okay=False, help="Bundle to write (tar)")],
    model_set: Annotated[
        str | None, typer.Option("--set", help="Model set (default: the selected one)")
    ] = None,
) -> None:
    """Write a model set and its checksum manifest into BUNDLE.tar."""
    from workers.pipeline.models import export_bundle

    cfg = settings()
    manifest = export_bundle(model_set=model_set or cfg.ocr_model_set, data_dir=cfg.data_dir, bundle=bundle)
    typer.echo(json.dumps(manifest, ensure_ascii=False))


@models_app.command("import")
def import_(
    bundle: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Bundle (tar)")],
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an installed set")] = False,
    name: Annotated[str | None, typer.Option("--name", help="Install under this name")] = None,
) -> None:
    """Verify every checksum of BUNDLE.tar and install it; a tampered bundle is refused."""
    from workers.pipeline.models import BundleError, import_bundle

    cfg = settings()
    try:
        installed = import_bundle(bundle=bundle, data_dir=cfg.data_dir, replace=replace, name=name)
    except (BundleError, FileExistsError) as exc:
        fail(str(exc))
        return
    typer.echo(f"installed model set {installed.name} at {installed.path}; select it with OCR_OCR_MODEL_SET")
