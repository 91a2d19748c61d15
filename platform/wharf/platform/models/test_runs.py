"""Test runs: app.json's `environments.test` run against a release image before it may go live."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wharf.platform.db import Base, UTCDateTime, utcnow

TEST_STATUSES = ("pending", "running", "succeeded", "failed", "errored", "skipped")


class TestRun(Base):
    __tablename__ = "test_runs"
    __table_args__ = (UniqueConstraint("app_id", "number", name="uq_test_runs_app_number"),)
    __test__ = False  # not a pytest test class

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    commit: Mapped[str] = mapped_column(String(64))
    # pending -> running -> succeeded | failed | errored; or skipped (git push -o ci.skip).
    status: Mapped[str] = mapped_column(String(20), default="pending")
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Why the run ended as it did, in one line ("Tests failed with exit code 3").
    message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The last WHARF_TEST_OUTPUT_BYTES of the run's output.
    output: Mapped[str] = mapped_column(Text, default="")
    # The image the tests ran in, kept so that a rerun runs the very same image.
    image: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # app.json's environments.test as it was parsed, so that a rerun runs the same commands.
    environment: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    build_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The release this run let go live, once there is one.
    release_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
