"""Per-process worker state: database, blob store and the OCR pipeline, built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from ocr_service.config import Settings, get_settings
from ocr_service.db.base import make_engine, make_session_factory
from ocr_service.keys.service import Keys, session_info
from ocr_service.storage.blobs import BlobStore, blob_store_from_settings
from workers.pipeline.calibration import Calibrator, load_calibration
from workers.pipeline.models import PACKAGED_SET, resolve_model_dir
from workers.pipeline.page import PagePipeline
from workers.pipeline.recognizer import OnnxCtcRecognizer, load_recognizer
from workers.pipeline.second_opinion import PACKAGED_SECOND_SET, SecondOpinion, load_second_opinion


@dataclass
class WorkerRuntime:
    settings: Settings
    session_factory: sessionmaker[Session]
    store: BlobStore
    pipeline: PagePipeline


def recognizer_from_settings(settings: Settings) -> OnnxCtcRecognizer:
    """The recogniser the settings select (model dir, else installed model set; threads; device)."""
    model_dir = resolve_model_dir(
        model_dir=settings.ocr_model_dir, model_set=settings.ocr_model_set, data_dir=settings.data_dir
    )
    return load_recognizer(model_dir, intra_op_threads=settings.ocr_threads, device=settings.ocr_device)


def second_opinion_from_settings(settings: Settings, primary: OnnxCtcRecognizer) -> SecondOpinion | None:
    """The second opinion the settings select (None when ``OCR_OCR_SECOND_OPINION=off``)."""
    name = settings.ocr_second_opinion
    if name == "off":
        return None
    if name == PACKAGED_SET:
        # resolve_model_dir answers None for it, which load_second_opinion reads as PP-OCRv5 mobile.
        raise ValueError(f"OCR_OCR_SECOND_OPINION={name} is the first model itself; name another model set")
    model_dir = (
        None
        if name == PACKAGED_SECOND_SET
        else resolve_model_dir(model_dir=None, model_set=name, data_dir=settings.data_dir)
    )
    return load_second_opinion(
        primary, model_dir=model_dir, intra_op_threads=settings.ocr_threads, device=settings.ocr_device
    )


def pipeline_from_settings(settings: Settings, *, calibrator: Calibrator | None = None) -> PagePipeline:
    """The production page pipeline: recogniser, second opinion, calibration, dpi and threshold."""
    recognizer = recognizer_from_settings(settings)
    return PagePipeline(
        recognizer,
        dpi=settings.raster_dpi,
        low_confidence_threshold=settings.confidence_threshold,
        calibrator=calibrator if calibrator is not None else calibrator_from_settings(settings),
        second_opinion=second_opinion_from_settings(settings, recognizer),
    )


def calibration_path(settings: Settings) -> Path:
    """Site calibration written by ``ocr-service calibrate --from-reviews``."""
    return settings.data_dir / "calibration.json"


def calibrator_from_settings(settings: Settings) -> Calibrator:
    """The site's refitted calibration when there is one, else the packaged fit."""
    path = calibration_path(settings)
    return load_calibration(path if path.is_file() else None)


def build_worker_runtime(settings: Settings) -> WorkerRuntime:
    return WorkerRuntime(
        settings=settings,
        session_factory=make_session_factory(
            make_engine(settings.resolved_database_url), info=session_info(Keys.from_settings(settings))
        ),
        store=blob_store_from_settings(settings),
        pipeline=pipeline_from_settings(settings),
    )


@lru_cache(maxsize=1)
def worker_runtime() -> WorkerRuntime:
    # Built lazily inside the (forked) worker process, so each process has its own ONNX session.
    return build_worker_runtime(get_settings())
