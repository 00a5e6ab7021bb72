"""Running a PP-OCR CTC line model on onnxruntime: resizing, batching, inference.

:class:`CtcLineModel` turns line images into per-frame class probabilities and nothing
more; what the probabilities are read as (field types, priors, views, glyph rereads) is
:class:`~workers.pipeline.recognizer.OnnxCtcRecognizer`'s business. Kept apart so the
decoding side reads as one story and the model side can be swapped or measured alone
(``benchmarks/gpu_shapes.py`` times the inference calls of a session opened the same way).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from workers.pipeline.models import open_session

__all__ = ["CtcLineModel"]


class CtcLineModel:
    """A PP-OCR style CTC line model on onnxruntime (CPU, or CUDA: :func:`~workers.pipeline.models.open_session`).

    Args:
        model_path: the ONNX file.
        characters: the dictionary without blank/space (blank is prepended and a
            space class appended, as PaddleOCR's ``CTCLabelDecode`` does).
        intra_op_threads: onnxruntime intra-op threads.
        batch_size: crops per inference call.
        max_width: cap on the resized crop width (pixels) to bound memory.
    """

    def __init__(
        self,
        model_path: Path,
        characters: Sequence[str],
        *,
        intra_op_threads: int = 2,
        batch_size: int = 8,
        max_width: int = 1600,
        device: str = "cpu",
    ) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, intra_op_threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = open_session(model_path, options, device=device)
        self._input = self._session.get_inputs()[0].name
        shape = self._session.get_inputs()[0].shape
        self.height = int(shape[2]) if isinstance(shape[2], int) else 48
        self.min_width = self.height * 4
        """Narrower lines are padded to this width (mid grey, as PaddleOCR trains)."""
        self.characters: list[str] = ["", *characters, " "]
        self._index = {ch: i for i, ch in enumerate(self.characters) if i > 0}
        self.batch_size = batch_size
        self.max_width = max_width
        self._masks: dict[str, np.ndarray] = {}

    @property
    def providers(self) -> list[str]:
        """The onnxruntime providers the session really runs on, first one first."""
        return list(self._session.get_providers())

    def allowed_mask(self, charset: str | None, excluded: str = "") -> np.ndarray | None:
        """Boolean class mask: the characters of ``charset`` (None = all) minus ``excluded``.

        Blank and space always stay allowed; None when nothing is restricted.
        """
        if charset is None and not excluded:
            return None
        key = f"{charset}\x00{excluded}"
        cached = self._masks.get(key)
        if cached is None:
            if charset is None:
                cached = np.ones(len(self.characters), dtype=bool)
            else:
                cached = np.zeros(len(self.characters), dtype=bool)
                for ch in charset:
                    index = self._index.get(ch)
                    if index is not None:
                        cached[index] = True
            for ch in excluded:
                index = self._index.get(ch)
                if index is not None:
                    cached[index] = False
            cached[0] = True
            cached[len(self.characters) - 1] = True
            self._masks[key] = cached
        return cached

    def _resize(self, crop: np.ndarray) -> np.ndarray:
        gray = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        h, w = gray.shape[:2]
        width = min(self.max_width, max(8, math.ceil(self.height * w / max(1, h))))
        interpolation = cv2.INTER_AREA if h > self.height else cv2.INTER_CUBIC
        return cv2.resize(gray, (width, self.height), interpolation=interpolation)

    def _input_width(self, width: int) -> int:
        """The model input width a resized line ``width`` pixels wide is read at (padded to :attr:`min_width`)."""
        return max(width, self.min_width)

    def _infer(self, resized: list[np.ndarray]) -> np.ndarray:
        width = self._input_width(max(img.shape[1] for img in resized))
        # Zero after normalisation (mid grey) is the padding PaddleOCR trains with.
        batch = np.zeros((len(resized), 3, self.height, width), dtype=np.float32)
        for i, img in enumerate(resized):
            norm = img.astype(np.float32) / 127.5 - 1.0
            batch[i, :, :, : img.shape[1]] = norm[None, :, :]
        output = self._session.run(None, {self._input: batch})[0]
        return np.asarray(output, dtype=np.float32)

    def _batches(self, order: list[int], widths: list[int]) -> list[list[int]]:
        """Split width-sorted crop indices into batches of nearly equal width.

        The model sees the padding of a batch: a narrow crop padded to a wide one reads
        differently (on composed_hw_fields_dev CER 4.5 % in fixed batches of 8 vs 4.3 %
        one by one), so a batch only takes crops within 10 % of its first crop's width.
        """
        batches: list[list[int]] = []
        for index in order:
            if (
                batches
                and len(batches[-1]) < self.batch_size
                and widths[index] == widths[batches[-1][0]]
            ):
                batches[-1].append(index)
            else:
                batches.append([index])
        return batches

    def _outputs(self, lines: Sequence[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, (T, C) probabilities)`` of every resized line, inferred in width-sorted batches."""
        # Sorting by width groups similar crops so a batch wastes little padding.
        order = sorted(range(len(lines)), key=lambda i: lines[i].shape[1])
        # Every line narrower than the minimum input width is padded to it: to the model they
        # are all the same width, so they share batches (single characters and their views).
        widths = [self._input_width(line.shape[1]) for line in lines]
        for chunk in self._batches(order, widths):
            probs = self._infer([lines[i] for i in chunk])
            for row, index in enumerate(chunk):
                yield index, probs[row]
