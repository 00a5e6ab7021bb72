"""Blind second entries for double entry (読み合わせ)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ocr_service.db.base import Base, OrgScoped, TimestampMixin, new_id, opened_plain


class BlindEntry(OrgScoped, TimestampMixin, Base):
    """What the second reviewer typed for one flagged field, without seeing the first value."""

    __tablename__ = "blind_entries"
    __table_args__ = (UniqueConstraint("field_result_id", name="uq_blind_entries_field_result"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    field_result_id: Mapped[str] = mapped_column(ForeignKey("field_results.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    value_sealed: Mapped[str] = mapped_column("value", Text, default="")
    first_value_sealed: Mapped[str] = mapped_column("first_value", Text, default="")
    """The first reviewer's value at the time (sealed), kept so the arbiter sees both."""
    matched: Mapped[bool] = mapped_column(default=False)

    @property
    def value(self) -> str:
        return opened_plain(self, "value_sealed")

    @property
    def first_value(self) -> str:
        return opened_plain(self, "first_value_sealed")
