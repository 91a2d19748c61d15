"""Builds: one per push, with its status, what it detected, its sizes and its full output."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wharf.platform.db import Base, UTCDateTime, utcnow


class Build(Base):
    __tablename__ = "builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    # pending -> building -> succeeded | failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    commit: Mapped[str] = mapped_column(String(64))
    buildpacks: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    process_types: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    image: Mapped[str | None] = mapped_column(String(255), nullable=True)
    slug_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    image_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    release_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failure: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    output: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
