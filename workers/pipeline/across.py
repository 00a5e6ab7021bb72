"""What the fields of one page know of each other, after each was read alone.

A form repeats itself: a furigana line spells the name below it, an applicant's address is often
the person concerned's, and the boxes of a date hold only plausible values. Once every field is
read on its own, the page reads them again in that light (:func:`read_across_fields`):

- furigana against their name (:mod:`workers.pipeline.furigana`),
- text written twice, read as one (:mod:`workers.pipeline.repeated`),
- date parts read implausibly, replaced by their likeliest plausible value
  (:mod:`workers.pipeline.plausible`).

Every value changed so goes to review with the reason (:func:`flag_changed`): the reviewer sees
that it is not the crop's own best reading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from ocr_service.validation.wareki import Era
from workers.pipeline.decoding import DecodeContext
from workers.pipeline.furigana import REASON_MENDED, ReadField, mend_slips_against_names, reread_against_names
from workers.pipeline.plausible import replace_implausible_dates
from workers.pipeline.recognizer import Recognizer, TextResult, TextScorer
from workers.pipeline.repeated import REASON_REPEATED, read_repeated_together
from workers.pipeline.types import CHANGED_CONFIDENCE, FieldReading

__all__ = ["flag_changed", "read_across_fields"]


def read_across_fields(
    *,
    recognizer: Recognizer,
    fields: Sequence[ReadField],
    crops: Sequence[np.ndarray],
    types: Sequence[str | None],
    contexts: Sequence[DecodeContext | None],
    results: list[TextResult],
    eras: Mapping[str, Era] | None = None,
) -> tuple[list[TextResult], dict[str, str]]:
    """What the page's fields know of each other, after each was read alone.

    Furigana are read again against their name and, when the recogniser can score texts, one
    slip of them mended (:mod:`workers.pipeline.furigana`); then texts written twice are read
    together, and date parts read implausibly replaced by their likeliest plausible value
    (:mod:`workers.pipeline.plausible`; ``eras``: the ticked era of each split birth date's year
    box, by field name).

    Returns:
        the page's results, and the fields whose text was changed so, each with the reason to
        show the reviewer.
    """
    if not results:
        return results, {}
    results = reread_against_names(
        recognizer=recognizer, crops=crops, types=types, contexts=contexts, results=results, fields=fields
    )
    if not isinstance(recognizer, TextScorer):
        return results, {}
    results, mended = mend_slips_against_names(scorer=recognizer, crops=crops, results=results, fields=fields)
    results, together = read_repeated_together(scorer=recognizer, fields=fields, crops=crops, results=results)
    results, replaced = replace_implausible_dates(
        scorer=recognizer, fields=fields, crops=crops, contexts=contexts, results=results, eras=eras
    )
    return results, {
        **dict.fromkeys(mended, REASON_MENDED),
        **dict.fromkeys(together, REASON_REPEATED),
        **replaced,
    }


def flag_changed(reading: FieldReading, reason: str) -> FieldReading:
    """A field whose text was changed after it was read alone (read together with another field,
    its furigana mended by its name, an implausible date part replaced): to review, saying why
    (``reason``).

    Also when it was already doubtful: the reviewer should know the value is not this crop's
    own best reading.
    """
    if reading.status not in ("ok", "empty", "low_confidence"):
        return reading
    return replace(reading, status="low_confidence", reason=reason, confidence=min(reading.confidence, CHANGED_CONFIDENCE))
