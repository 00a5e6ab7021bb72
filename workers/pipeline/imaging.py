"""Small image helpers shared by the page pipeline and the worker: row splitting, contrast, PNG."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["encode_png", "normalize_contrast", "row_bands"]


def row_bands(ink: np.ndarray, *, min_gap: int = 3) -> list[tuple[int, int]]:
    """Split a multi-line field into text rows at horizontal gaps without ink."""
    profile = ink.sum(axis=1) > 0
    bands: list[tuple[int, int]] = []
    start: int | None = None
    gap = 0
    for y, on in enumerate(profile.tolist()):
        if on:
            if start is None:
                start = y
            gap = 0
        elif start is not None:
            gap += 1
            if gap >= min_gap:
                bands.append((start, y - gap + 1))
                start, gap = None, 0
    if start is not None:
        bands.append((start, len(profile) - gap))
    # Accents and dots make tiny bands; merge them into their neighbour.
    heights = [b - a for a, b in bands]
    tall = max(heights) if heights else 0
    merged: list[tuple[int, int]] = []
    for band in bands:
        if merged and (band[1] - band[0] < tall * 0.3 or merged[-1][1] - merged[-1][0] < tall * 0.3):
            merged[-1] = (merged[-1][0], band[1])
        else:
            merged.append(band)
    return merged


def normalize_contrast(gray: np.ndarray) -> np.ndarray:
    """Stretch a crop so paper is white and the darkest ink black.

    Dropped-out template pixels are painted pure white; without the stretch a
    grey (JPEG, dim lid) background around them forms patches the recogniser
    reads as structure. Measured on dev crops: +2 points of field accuracy.
    """
    paper = float(np.percentile(gray, 90))
    ink = float(np.percentile(gray, 1))
    scale = 255.0 / max(1.0, paper - ink)
    return np.asarray(np.clip((gray.astype(np.float32) - ink) * scale, 0, 255), dtype=np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a grey or colour image (crops, page images)."""
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding failed")
    return bytes(encoded.tobytes())
