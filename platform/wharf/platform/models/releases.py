"""Releases: an immutable, numbered pairing of a build and a snapshot of config."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wharf.platform.db import Base, UTCDateTime, utcnow
from wharf.platform.models.apps import App


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("app_id", "version", name="uq_releases_app_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(500))
    # pending: waiting to deploy; succeeded: deployed or nothing to deploy; failed: deploy failed.
    status: Mapped[str] = mapped_column(String(20), default="succeeded")
    build_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    image: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The Docker image id the image tag pointed at when the release was made: promotion tags the same id.
    image_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Where the release came from: initial, push, promotion, rollback, config, addon.
    source: Mapped[str | None] = mapped_column(String(20), nullable=True)
    process_types: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Config vars as encrypted JSON (Fernet), so a database dump does not leak secrets.
    config_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The test run that let this release go live (app.json environments.test), if any.
    test_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("test_runs.id", ondelete="SET NULL"), nullable=True
    )

    app: Mapped[App] = relationship()
