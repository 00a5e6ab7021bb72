"""Heartbeat in, bridge state out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class HeartbeatIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    version: str = Field(default="", max_length=40)
    hostname: str = Field(default="", max_length=255)
    hot_folders: list[str] = Field(default_factory=list, max_length=50)
    queued: int = Field(default=0, ge=0)
    quarantined: int = Field(default=0, ge=0)
    last_success_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=2000)
    last_error_at: datetime | None = None


class BridgeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    version: str
    hostname: str
    hot_folders: list[str]
    queued: int
    quarantined: int
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    last_seen_at: datetime
    state: str = ""
    """ok | error | silent"""
    state_label: str = ""
