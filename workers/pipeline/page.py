"""Read every field of one scanned page: align, crop, clean, recognise.

Printed content (box borders, comb cell walls, printed 年/月/日, label text)
is removed by *template dropout*: after alignment the scan and the blank
template share pixel coordinates, so every pixel that is ink on the template
(dilated by the alignment error) is painted over with paper. What remains in a
field box is what the person wrote, which makes empty-field detection a simple
ink count and gives the recogniser clean lines without ruling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ocr_service.forms.layout import FieldSpec, FormLayout
from workers.pipeline.across import flag_changed, read_across_fields
from workers.pipeline.align import PageFeatures, align_page
from workers.pipeline.blank import is_blank_page
from workers.pipeline.calibration import Calibrator, field_group, load_calibration
from workers.pipeline.checkbox import ink_mask, read_checkbox
from workers.pipeline.decoding import DecodeContext, field_context
from workers.pipeline.furigana import ReadField
from workers.pipeline.hints import with_hints
from workers.pipeline.imaging import encode_png, normalize_contrast
from workers.pipeline.linecrop import line_pieces
from workers.pipeline.marks import (
    REASON_SEAL,
    bridge_crossings,
    choice_reading,
    choice_region,
    empty_reading,
    line_slivers,
    needs_review,
    seal_mask,
    strip_mask,
)
from workers.pipeline.recognizer import Recognizer, TextResult
from workers.pipeline.second_opinion import Ask, SecondOpinion
from workers.pipeline.splitdates import birth_year_eras
from workers.pipeline.types import FieldReading, FieldStatus, PageReading
from workers.pipeline.validate import validate_page_fields

__all__ = ["BLANK_REASON", "PagePipeline"]

_PAD = 64
"""Paper border (px) added around the aligned page so shifted crops never leave it."""

BLANK_REASON = "白紙のページです（読み取りを省略しました）"
_REASON_LOW = "信頼度が低いため確認が必要です（{:.0%}）"
_REASON_CHECKBOX = "チェックの有無が判別しにくいため確認が必要です"


@dataclass(frozen=True)
class _Crop:
    """A field crop in aligned page pixels."""

    raw: np.ndarray
    clean: np.ndarray
    ink: np.ndarray
    """uint8 0/1 mask of handwriting (template removed, specks dropped)."""
    extent: int
    """Largest width or height of one handwriting blob, in pixels (0 when none)."""


@dataclass
class _Pending:
    """Text pieces of one field waiting for the batched recogniser call."""

    spec: FieldSpec
    crop_png: bytes
    first: int
    count: int
    joiner: str = ""
    sealed: bool = False
    """A seal (印影) was removed from the crop: the reading must be checked by a person."""


class PagePipeline:
    """Turns one page image into :class:`PageReading` for one layout page.

    Args:
        recognizer: the text recogniser (called once per page with all crops).
        dpi: resolution of both the scan and the template images.
        low_confidence_threshold: fields below it get status ``low_confidence``;
            fields at or above it may skip human review.
        margin_pt: extra border around every field box (handwriting overflows).
        calibrator: maps raw scores to calibrated confidences (default: the packaged fit;
            ``Calibrator()`` keeps raw scores, which is what fitting needs).
        second_opinion: reads doubtful text fields again (see :mod:`workers.pipeline.second_opinion`);
            None reads every field once.
        second_opinion_everywhere: ask about every text field, not only doubtful ones
            (calibration fitting needs the agreement of all of them).

    Comb fields are read as one line: template dropout removes the cell walls,
    which leaves an ordinary digit line (97.9 % exact on dev digit fields).
    """

    def __init__(
        self,
        recognizer: Recognizer,
        *,
        dpi: int = 200,
        low_confidence_threshold: float = 0.95,
        margin_pt: float = 3.0,
        calibrator: Calibrator | None = None,
        second_opinion: SecondOpinion | None = None,
        second_opinion_everywhere: bool = False,
    ) -> None:
        self.recognizer = recognizer
        self.second_opinion = second_opinion
        self.second_opinion_everywhere = second_opinion_everywhere
        self.calibrate = calibrator if calibrator is not None else load_calibration()
        self.dpi = dpi
        self.threshold = low_confidence_threshold
        self.margin_pt = margin_pt
        # Smallest blob kept as handwriting, and least ink for a non-empty field, scale with dpi².
        self._min_blob = max(4, round(8 * (dpi / 200.0) ** 2))
        self._min_ink = max(20, round(60 * (dpi / 200.0) ** 2))
        # A single written stroke (a "1") is small in area but tall; dust is neither.
        self._min_extent = 5.0 * dpi / 72.0
        self._radius_pt = 2.5

    def process_page(
        self,
        image: np.ndarray,
        *,
        layout: FormLayout,
        layout_page: int,
        page_no: int,
        template_image: np.ndarray,
        scan_features: PageFeatures | None = None,
    ) -> PageReading:
        """Read all fields of ``layout_page`` from one scanned page.

        Args:
            image: the grayscale scan at ``self.dpi``.
            layout: the form layout.
            layout_page: 1-based page of the layout this scan shows.
            page_no: 1-based page number in the upload (reported back).
            template_image: the blank template page at ``self.dpi``.
            scan_features: ORB features of ``image`` when identification already computed them.

        Returns:
            the :class:`PageReading`; status ``unaligned`` or ``blank`` carries no fields.
        """
        if is_blank_page(image, dpi=self.dpi):
            return PageReading(page_no=page_no, status="blank", reason=BLANK_REASON)
        aligned = align_page(image, template_image, scan_features=scan_features, dpi=self.dpi)
        if not aligned.ok or aligned.warped is None:
            return PageReading(
                page_no=page_no,
                status="unaligned",
                reason=aligned.reason or "テンプレートに位置合わせできません",
                inliers=aligned.inliers,
                residual_px=aligned.residual_px,
            )
        dropout = self._template_dropout(template_image)
        padded = cv2.copyMakeBorder(aligned.warped, _PAD, _PAD, _PAD, _PAD, cv2.BORDER_CONSTANT, value=255)
        readings: dict[str, FieldReading] = {}
        pending: list[_Pending] = []
        crops: list[np.ndarray] = []
        types: list[str | None] = []
        contexts: list[DecodeContext | None] = []
        for spec in layout.fields_on_page(layout_page):
            if spec.type == "checkbox":
                readings[spec.name] = self._checkbox(spec, padded, template_image, dropout)
                continue
            if spec.type == "choice":
                readings[spec.name] = self._choice(spec, padded, template_image, dropout)
                continue
            crop = self._crop(padded, template_image, dropout, spec, self.margin_pt)
            png = encode_png(crop.raw)
            crop, sealed = self._without_seal(spec, crop, padded, template_image, dropout)
            if int(crop.ink.sum()) < self._min_ink and crop.extent < self._min_extent:
                readings[spec.name] = empty_reading(
                    spec.name, png, self.calibrate("empty", 0.95), sealed=sealed
                )
                continue
            pieces = line_pieces(crop.ink, crop.clean, multiline=spec.multiline)
            if not pieces:
                readings[spec.name] = empty_reading(
                    spec.name, png, self.calibrate("empty", 0.9), sealed=sealed
                )
                continue
            pending.append(_Pending(spec, png, len(crops), len(pieces), sealed=sealed))
            crops.extend(pieces)
            types.extend([spec.type] * len(pieces))
            contexts.extend([field_context(spec)] * len(pieces))
        results = self.recognizer.recognize(crops, types, contexts) if crops else []
        # Only a surely read era box may hold a birth year to its era.
        answered = {name: r.value for name, r in readings.items() if r.status == "ok"}
        results, changed = read_across_fields(
            recognizer=self.recognizer,
            fields=[ReadField(p.spec, p.first, p.count) for p in pending],
            crops=crops,
            types=types,
            contexts=contexts,
            results=results,
            eras=birth_year_eras(layout.fields_on_page(layout_page), answered),
        )
        for item in pending:
            readings[item.spec.name] = self._text_reading(item, results[item.first : item.first + item.count])
        if self.second_opinion is not None:
            asks = [
                Ask(
                    item.spec.name,
                    crops[item.first : item.first + item.count],
                    item.spec.type,
                    item.joiner,
                    item.joiner.join(r.text for r in results[item.first : item.first + item.count]),
                    item.sealed,
                )
                for item in pending
            ]
            self.second_opinion.settle(
                asks,
                readings,
                calibrator=self.calibrate,
                threshold=self.threshold,
                everywhere=self.second_opinion_everywhere,
                low_reason=_REASON_LOW,
            )
        ordered = [
            flag_changed(readings[s.name], changed[s.name]) if s.name in changed else readings[s.name]
            for s in layout.fields_on_page(layout_page)
        ]
        ordered = validate_page_fields(ordered, layout=layout, threshold=self.threshold)
        ordered = with_hints(ordered, layout=layout, page=layout_page, threshold=self.threshold)
        if aligned.doubtful:
            # Positions may be off: no field of this page may skip review, whatever its confidence.
            ordered = [needs_review(f, aligned.reason) for f in ordered]
        return PageReading(
            page_no=page_no,
            status="ok",
            reason=aligned.reason,
            inliers=aligned.inliers,
            residual_px=aligned.residual_px,
            fields=ordered,
            layout_page=layout_page,
            orientation=aligned.orientation,
            alignment_doubtful=aligned.doubtful,
            aligned_png=encode_png(aligned.warped),
        )

    # -- cropping ---------------------------------------------------------------------------

    def _template_dropout(self, template: np.ndarray) -> np.ndarray:
        """Boolean mask of template ink, grown a little for blur and the remaining alignment error.

        Grown by one pixel at 200 dpi only: fields are re-registered locally, and a
        wider mask erases the parts of marks that touch the printed lines (on dev a
        radius of 2 lost 5 of 480 ticks, a radius of 1 none).
        """
        printed = (template < 200).astype(np.uint8)
        radius = max(1, round(self.dpi / 200.0))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        return cv2.dilate(printed, kernel).astype(bool)

    def _box_px(self, spec: FieldSpec, shape: tuple[int, ...], margin_pt: float) -> tuple[int, int, int, int]:
        scale = self.dpi / 72.0
        x0, y0, x1, y1 = spec.box
        h, w = shape[:2]
        return (
            max(0, int((x0 - margin_pt) * scale)),
            max(0, int((y0 - margin_pt) * scale)),
            min(w, math.ceil((x1 + margin_pt) * scale)),
            min(h, math.ceil((y1 + margin_pt) * scale)),
        )

    def _local_shift(self, padded: np.ndarray, template: np.ndarray, spec: FieldSpec) -> tuple[int, int]:
        """Residual (dy, dx) of the scan around one field, by matching the printed lines nearby.

        A global similarity leaves a pixel or two of local error (paper warp,
        scanner non-linearity); field borders must be removed exactly, so each
        field is re-registered on the template ink around it. ``padded`` is the
        aligned page with a ``_PAD`` border of paper.
        """
        radius = max(3, round(self._radius_pt * self.dpi / 72.0))
        x0, y0, x1, y1 = self._box_px(spec, template.shape, self.margin_pt + 5.0)
        patch = template[y0:y1, x0:x1]
        if patch.size == 0 or float(patch.std()) < 8.0:
            return 0, 0
        search = padded[y0 + _PAD - radius : y1 + _PAD + radius, x0 + _PAD - radius : x1 + _PAD + radius]
        scores = cv2.matchTemplate(255 - search, 255 - patch, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        # A weak peak means no printed structure to lock on; a peak on the search border is unreliable.
        if best < 0.3 or max(abs(by - radius), abs(bx - radius)) >= radius:
            return 0, 0
        return by - radius, bx - radius

    def _crop(
        self, padded: np.ndarray, template: np.ndarray, dropout: np.ndarray, spec: FieldSpec, margin_pt: float
    ) -> _Crop:
        dy, dx = self._local_shift(padded, template, spec)
        x0, y0, x1, y1 = self._box_px(spec, template.shape, margin_pt)
        raw = padded[y0 + dy + _PAD : y1 + dy + _PAD, x0 + dx + _PAD : x1 + dx + _PAD]
        scan_ink = ink_mask(raw)
        drop = dropout[y0:y1, x0:x1] & ~bridge_crossings(scan_ink, dropout[y0:y1, x0:x1], dpi=self.dpi)
        ink = scan_ink.copy()
        ink[drop] = 0
        drop = drop | line_slivers(ink, drop, dpi=self.dpi)
        ink[drop] = 0
        count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        small = np.zeros(count, dtype=bool)
        small[1:] = stats[1:, cv2.CC_STAT_AREA] < self._min_blob
        ink[small[labels]] = 0
        clean = normalize_contrast(raw)
        clean[drop | (small[labels] & (labels > 0))] = 255
        extent = 0
        if count > 1:
            keep = ~small[1:]
            if keep.any():
                extent = int(
                    np.max(np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])[keep])
                )
        return _Crop(raw, clean, ink, extent)

    def _without_seal(
        self, spec: FieldSpec, crop: _Crop, padded: np.ndarray, template: np.ndarray, dropout: np.ndarray
    ) -> tuple[_Crop, bool]:
        """Take a seal (印影) out of a text crop; it is looked for in a wider crop, as seals overhang fields."""
        if not crop.ink.any():
            return crop, False
        # Cheap test first: a seal is taller than the box, so in this crop it spans nearly its height.
        rows = crop.ink.shape[0]
        _, _, stats, _ = cv2.connectedComponentsWithStats(crop.ink, connectivity=8)
        if not (stats[1:, cv2.CC_STAT_HEIGHT] >= 0.75 * rows).any():
            return crop, False
        height_pt = spec.box[3] - spec.box[1]
        wide_pt = max(self.margin_pt, 0.4 * height_pt)
        wide = self._crop(padded, template, dropout, spec, wide_pt)
        seal = seal_mask(wide.ink, box_height=height_pt * self.dpi / 72.0)
        if seal is None:
            return crop, False
        wx0, wy0, _, _ = self._box_px(spec, template.shape, wide_pt)
        x0, y0, _, _ = self._box_px(spec, template.shape, self.margin_pt)
        h, w = crop.ink.shape
        local = seal[y0 - wy0 : y0 - wy0 + h, x0 - wx0 : x0 - wx0 + w]
        if not local.any():
            return crop, False
        stripped = strip_mask(crop.ink, crop.clean, local)
        return replace(crop, ink=stripped.ink, clean=stripped.clean, extent=stripped.extent), True

    # -- readings ---------------------------------------------------------------------------

    def _checkbox(
        self, spec: FieldSpec, padded: np.ndarray, template: np.ndarray, dropout: np.ndarray
    ) -> FieldReading:
        # A ring of about a third of the box side around it catches ○ drawn around the square.
        side_pt = min(spec.box[2] - spec.box[0], spec.box[3] - spec.box[1])
        ring_pt = side_pt * 0.35
        crop = self._crop(padded, template, dropout, spec, ring_pt)
        x0, y0, _, _ = self._box_px(spec, template.shape, ring_pt)
        bx0, by0, bx1, by1 = self._box_px(spec, template.shape, 0.0)
        result = read_checkbox(crop.clean, box=(bx0 - x0, by0 - y0, bx1 - x0, by1 - y0))
        confidence = self.calibrate("checkbox", result.confidence)
        status: FieldStatus = "ok" if confidence >= self.threshold else "low_confidence"
        reason = None if status == "ok" else _REASON_CHECKBOX
        return FieldReading(spec.name, result.checked, confidence, [], encode_png(crop.raw), status, reason)

    def _choice(
        self, spec: FieldSpec, padded: np.ndarray, template: np.ndarray, dropout: np.ndarray
    ) -> FieldReading:
        """Which printed option is circled or ticked (see :func:`workers.pipeline.marks.choice_reading`)."""
        region = spec.model_copy(update={"box": choice_region(spec)})
        # Room around every option for a circle drawn around it.
        ring_pt = 0.5 * max(o.box[3] - o.box[1] for o in spec.options)
        crop = self._crop(padded, template, dropout, region, ring_pt)
        x0, y0, _, _ = self._box_px(region, template.shape, ring_pt)
        local = []
        for option in spec.options:
            bx0, by0, bx1, by1 = self._box_px(
                region.model_copy(update={"box": option.box}), template.shape, 0.0
            )
            local.append((bx0 - x0, by0 - y0, bx1 - x0, by1 - y0))
        return choice_reading(spec, crop.ink, local, encode_png(crop.raw), threshold=self.threshold)

    def _text_reading(self, item: _Pending, results: Sequence[TextResult]) -> FieldReading:
        text = item.joiner.join(r.text for r in results)
        if not text:
            return FieldReading(
                item.spec.name, "", 0.0, [], item.crop_png, "unreadable", "文字を読み取れませんでした"
            )
        # The map is monotone, so the weakest character stays the field's confidence.
        group = field_group(item.spec.type)
        confs = [self.calibrate(group, c) for r in results for c in r.char_confidences]
        confidence = min(confs) if confs else 0.0
        status: FieldStatus = "ok" if confidence >= self.threshold else "low_confidence"
        reason = None if status == "ok" else _REASON_LOW.format(confidence)
        if item.sealed:
            status, reason = "low_confidence", REASON_SEAL
        return FieldReading(item.spec.name, text, confidence, confs, item.crop_png, status, reason)
