"""Text-line recognition with a PP-OCR CTC model on onnxruntime.

Only the ONNX weights shipped inside the ``rapidocr`` wheel are used; its
runtime engine is never imported, so nothing here can reach the network.

Field types constrain decoding: at every CTC time step, when the most likely
class is not allowed for the field, the most likely *allowed character* is
taken instead. Blank and space always stay allowed as winners. Simply zeroing disallowed
classes would be wrong: blank usually has the next-highest probability, would
win those frames, and silently drop the character.

Why not the ``paddleocr`` 3.x package as a backend (checked with paddleocr 3.7.0 /
paddlex 3.7.x): its text-recognition predictor hands the raw ``[N, T, C]`` output only to
its post-op ``CTCLabelDecode.__call__``, which immediately takes ``argmax``/``max`` and
returns ``(text, mean score)``. Constrained decoding needs the full distribution per
frame, which would mean patching a private post-processor of another project; the
package also pulls paddlex with requests/aiohttp and tries the network for model files
unless every model dir is explicit. The same PaddleOCR export (``inference.onnx`` +
``inference.yml``) loads here directly (:func:`load_recognizer`), so a site can still drop
in PP-OCRv5 server or a fine-tuned model without that package.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from workers.pipeline.charsets import EXCLUDED, NAME_EXCLUDED, NUMBER_TYPES, charset_for_type, finish_text
from workers.pipeline.ctcmodel import CtcLineModel
from workers.pipeline.ctcscore import ctc_log_likelihood
from workers.pipeline.decoding import DecodeContext, decode_field, gap_frames
from workers.pipeline.dropped import DROPPED_TYPES, lines_to_search, restore_dropped_digits
from workers.pipeline.glyphs import GLYPH_BELOW, GLYPH_TYPES, reread_digits
from workers.pipeline.linecrop import (
    close_gaps,
    firm_thin_character,
    prefer_restored,
    prepare_line,
    single_glyph,
)
from workers.pipeline.models import execution_providers, packaged_model_path, read_paddle_dict
from workers.pipeline.priors import Prior, warm_priors
from workers.pipeline.types import Recognizer, TextResult, TextScorer
from workers.pipeline.views import (
    extra_views,
    line_views,
    pick_by_views,
    pick_one_character,
    view_candidates,
    view_prior,
)

__all__ = [
    "OnnxCtcRecognizer",
    "Recognizer",
    "TextResult",
    "TextScorer",
    "execution_providers",
    "load_recognizer",
    "packaged_model_path",
    "prefer_restored",
]

_GAP_TYPES = frozenset({"hiragana", "katakana"})
"""Field types whose lines are read again with their word gap narrowed: kana names. Free text
gained one address on dev for +30 % recognition time (addresses are long), so it is not."""
_VIEW_BELOW = 0.9
"""A lone constrained character read with less confidence than this is read again in other views."""

_ONE_DIGIT = "0123456789"
"""What one stroke in a ``digits`` box may be read as when the model split it in two."""

_LINE_VIEW_BELOW = 0.6
"""A number field's line read with less confidence than this is read again with thinner strokes.
On the dev forms and composed_hw_fields_dev no line above it changed in its second view (39 of
86 lines read twice for nothing); every change was below 0.6. Each read costs a whole line."""


class OnnxCtcRecognizer(CtcLineModel):
    """PP-OCR style CTC text recogniser: the model's frames (:class:`CtcLineModel`) read under
    each field's type, priors and views."""

    use_priors: bool = True
    """Grammar and dictionary priors in the beam decoder (False: plain decoding, for comparison)."""

    def recognize(
        self,
        crops: Sequence[np.ndarray],
        charsets: Sequence[str | None],
        contexts: Sequence[DecodeContext | None] | None = None,
    ) -> list[TextResult]:
        """Read every crop, constrained by its field type.

        Args:
            crops: grayscale (or BGR) line images, dark text on light ground.
            charsets: a field type per crop (``digits``, ``hiragana``...; see
                :mod:`workers.pipeline.charsets`), or None for free text.
            contexts: per crop, what the form knows beyond the type (a date role, the
                readings a name implies; see :class:`DecodeContext`); None = nothing.

        Returns:
            one :class:`TextResult` per crop, in input order.
        """
        if len(crops) != len(charsets) or (contexts is not None and len(contexts) != len(crops)):
            raise ValueError("crops, charsets and contexts must have the same length")
        # A lone character of a constrained field is read with thin strokes firmed up; free text as is.
        cleaned = [prepare_line(c) for c in crops]
        resized = [self._resize(c) for c in cleaned]
        lines = [r if charset_for_type(t) is None else firm_thin_character(r) for r, t in zip(resized, charsets, strict=True)]
        context_of = (lambda i: None) if contexts is None else contexts.__getitem__
        # A kana line with a wide gap (surname | given name) is also read with the gap narrowed
        # (see close_gaps); each variant points back to its crop.
        variants: list[tuple[int, np.ndarray]] = []
        for index, (line, field_type) in enumerate(zip(lines, charsets, strict=True)):
            variants.append((index, line))
            if field_type in _GAP_TYPES:
                closed = close_gaps(line)
                if closed is not line:
                    variants.append((index, closed))
        read: list[TextResult] = [TextResult("", [], 0.0)] * len(variants)
        variant_probs: list[np.ndarray] = [np.zeros((0, 0))] * len(variants)
        as_is: dict[int, tuple[TextResult, np.ndarray]] = {}
        for vi, probs in self._outputs([image for _, image in variants]):
            index, image = variants[vi]
            read[vi] = self._decode(image, probs, charsets[index], context_of(index))
            variant_probs[vi] = probs
            if image is lines[index]:
                as_is[index] = (read[vi], probs)
        # In variant order: the line as written first, then its narrowed copy.
        results: list[TextResult | None] = [None] * len(crops)
        for (index, _), result, probs in zip(variants, read, variant_probs, strict=True):
            earlier = results[index]
            if earlier is None:
                results[index] = result
                continue
            scores = None
            if len(result.text) > len(earlier.text):
                both = (as_is[index][1], probs)
                a, b = (sum(ctc_log_likelihood(p, self.characters, r.text) for p in both) for r in (earlier, result))
                scores = (a, b)
            results[index] = prefer_restored(earlier, result, log_likelihoods=scores)
        # A doubtful lone character of a constrained field, or a doubtful line of a number field, is
        # read again in other views and the views decide together (see views); a confident one
        # costs nothing more.
        seen: list[tuple[int, np.ndarray]] = []
        looks: dict[int, list[tuple[TextResult, np.ndarray]]] = {}
        lone_digit: set[int] = set()
        for index, (result, probs) in as_is.items():
            # One connected stroke in a digit box is one digit, however the model split it.
            if charsets[index] == "digits" and len(result.text) > 1 and single_glyph(lines[index]):
                lone_digit.add(index)
            elif result.confidence >= _VIEW_BELOW or charset_for_type(charsets[index]) is None:
                continue
            views = extra_views(lines[index])
            if not views and charsets[index] in NUMBER_TYPES and result.confidence < _LINE_VIEW_BELOW:
                views = line_views(lines[index])
            if views:
                looks[index] = [(result, probs)]
                seen.extend((index, view) for view in views)
        for vi, probs in self._outputs([image for _, image in seen]):
            index, image = seen[vi]
            looks[index].append((self._decode(image, probs, charsets[index], context_of(index)), probs))
        for index, looked in looks.items():
            prior = view_prior(charsets[index], context_of(index)) if self.use_priors else None
            results[index] = (
                self._one_digit(looked) if index in lone_digit else self._read_together(looked, prior)
            )
        final = [r if r is not None else TextResult("", [], 0.0) for r in results]
        line_probs = {i: probs for i, (_, probs) in as_is.items()}
        self._read_by_glyphs(cleaned, charsets, context_of, final, line_probs)
        self._restore_dropped(cleaned, lines, charsets, final, line_probs)
        return final

    def _restore_dropped(
        self,
        cleaned: Sequence[np.ndarray],
        lines: Sequence[np.ndarray],
        charsets: Sequence[str | None],
        results: list[TextResult],
        line_probs: Mapping[int, np.ndarray],
    ) -> None:
        """Digits a free-text line read as nothing, put back from their ink (:mod:`workers.pipeline.dropped`)."""
        searched = {i: probs for i, probs in line_probs.items() if charsets[i] in DROPPED_TYPES}

        def as_lone(glyph: np.ndarray) -> list[np.ndarray]:
            lone = self._lone_glyph(glyph)
            return [lone, *extra_views(lone)]

        changed = restore_dropped_digits(
            lines=lines_to_search(
                cleaned=cleaned, resized=lines, results=results, line_probs=searched, input_width=self._input_width
            ),
            characters=self.characters,
            as_lone=as_lone,
            infer=self._outputs,
        )
        for index, (text, confidences) in changed.items():
            results[index] = TextResult(text, confidences, min(confidences))

    def _read_by_glyphs(
        self,
        cleaned: Sequence[np.ndarray],
        charsets: Sequence[str | None],
        context_of: Callable[[int], DecodeContext | None],
        results: list[TextResult],
        line_probs: dict[int, np.ndarray],
    ) -> None:
        """Doubtful phone and postal lines read again digit by digit (:mod:`workers.pipeline.glyphs`)."""
        doubtful = {
            i: results[i].text
            for i in line_probs
            if charsets[i] in GLYPH_TYPES and results[i].confidence < GLYPH_BELOW
        }
        changed = reread_digits(
            lines={i: (cleaned[i], text, results[i].char_confidences, line_probs[i]) for i, text in doubtful.items()},
            priors={i: view_prior(charsets[i], context_of(i)) if self.use_priors else None for i in doubtful},
            characters=self.characters,
            as_lone=self._lone_glyph,
            infer=self._outputs,
        )
        for index, (text, shares) in changed.items():
            # Where the two reads disagreed the digit is as doubtful as their vote was close.
            confs = [min(c, shares.get(i, 1.0)) for i, c in enumerate(results[index].char_confidences)]
            results[index] = TextResult(text, confs, min(confs, default=results[index].confidence))

    def _lone_glyph(self, glyph: np.ndarray) -> np.ndarray:
        """A glyph cut from a cleaned line, as the model reads a lone character."""
        return firm_thin_character(self._resize(prepare_line(glyph)))

    def _decode(
        self, image: np.ndarray, probs: np.ndarray, field_type: str | None, context: DecodeContext | None
    ) -> TextResult:
        """Decode one line's frame probabilities under its field type and context."""
        excluded = EXCLUDED.get(field_type or "", "") + (NAME_EXCLUDED if context is not None and context.person_name else "")
        mask = self.allowed_mask(charset_for_type(field_type), excluded)
        gaps = gap_frames(image, probs.shape[0], self._input_width(image.shape[1]))
        raw, confs = decode_field(
            probs, self.characters, field_type, mask, gaps=gaps, use_priors=self.use_priors, context=context
        )
        return _finish(raw, confs, field_type)

    def _read_together(self, views: Sequence[tuple[TextResult, np.ndarray]], prior: Prior | None = None) -> TextResult:
        """One crop's reading from its views (``(reading, probabilities)``, the crop as is first),
        the field's ``prior`` voting and vetoing (:func:`~workers.pipeline.views.view_candidates`)."""
        candidates, bonus = view_candidates([result.text for result, _ in views], prior)
        if len(candidates) <= 1:
            return views[0][0]
        scores = np.array([[ctc_log_likelihood(probs, self.characters, t) for t in candidates] for _, probs in views])
        scores = scores + bonus[None, :]
        best, share = pick_by_views(scores)
        # The first view that read the winner supplies its confidences, capped by the views' doubt.
        chosen = next(result for result, _ in views if result.text == candidates[best])
        confs = [min(c, share) for c in chosen.char_confidences]
        return TextResult(chosen.text, confs, min(confs) if confs else min(chosen.confidence, share))

    def _one_digit(self, views: Sequence[tuple[TextResult, np.ndarray]]) -> TextResult:
        """The single digit the views find most likely (a lone glyph the model split in two)."""
        digit, share = pick_one_character([probs for _, probs in views], self.characters, _ONE_DIGIT)
        # Never surer than the split reading was: the model did not see one character here.
        confidence = min(share, views[0][0].confidence)
        return TextResult(digit, [confidence], confidence)

    def log_likelihoods(self, crops: Sequence[np.ndarray], candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        """``log P(text | crop)`` of each candidate text of each crop (:mod:`workers.pipeline.ctcscore`)."""
        scores: list[list[float]] = [[] for _ in crops]
        for index, probs in self._outputs([self._resize(prepare_line(c)) for c in crops]):
            scores[index] = [ctc_log_likelihood(probs, self.characters, t) for t in candidates[index]]
        return scores


def _finish(raw: str, confs: list[float], field_type: str | None) -> TextResult:
    text, out_confs = finish_text(raw, confs, field_type)
    return TextResult(text, out_confs, min(out_confs) if out_confs else 1.0)


@functools.lru_cache(maxsize=4)
def load_recognizer(
    model_dir: Path | None, *, intra_op_threads: int, device: str = "cpu"
) -> OnnxCtcRecognizer:
    """Build (once per process) the recogniser.

    Args:
        model_dir: a PaddleOCR export folder (``inference.onnx`` + ``inference.yml``),
            or None for the PP-OCRv6 small model packaged with rapidocr (its
            dictionary is in the ONNX metadata key ``character``).
        intra_op_threads: onnxruntime intra-op threads.
        device: ``cpu``, ``cuda`` or ``auto`` (see :func:`execution_providers`).

    Returns:
        a cached :class:`OnnxCtcRecognizer`; repeated calls return the same object.
    """
    # The decoder's dictionaries load with the model (process start), not inside the first page.
    warm_priors()
    if model_dir is None:
        path = packaged_model_path()
        probe = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        meta = probe.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise ValueError(f"{path} carries no 'character' metadata")
        # Same split as rapidocr: one character per line.
        characters = meta["character"].splitlines()
        del probe
        return OnnxCtcRecognizer(path, characters, intra_op_threads=intra_op_threads, device=device)
    return OnnxCtcRecognizer(
        model_dir / "inference.onnx",
        read_paddle_dict(model_dir),
        intra_op_threads=intra_op_threads,
        device=device,
    )
