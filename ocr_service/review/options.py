"""Per-form review options (the ``review`` section of a form layout)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ReviewOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    double_entry: bool = False
    """読み合わせ: a second reviewer types the flagged fields blind; disagreements go to an arbiter."""
