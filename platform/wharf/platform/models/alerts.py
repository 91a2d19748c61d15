"""Alerts on an app (crash loops, slow or failing requests, memory, failed deploys) and autoscaling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wharf.platform.db import Base, UTCDateTime, utcnow


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    # crash | p95 | errors | memory | deploy
    kind: Mapped[str] = mapped_column(String(20))
    webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    for_minutes: Mapped[int] = mapped_column(Integer, default=5)
    repeat_minutes: Mapped[int] = mapped_column(Integer, default=60)
    # The webhook's HMAC key, encrypted (Fernet) like config vars; shown once at creation.
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # ok | firing
    state: Mapped[str] = mapped_column(String(10), default="ok")
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Autoscaling(Base):
    __tablename__ = "autoscaling"
    __table_args__ = (UniqueConstraint("app_id", "process_type", name="uq_autoscaling_app_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    process_type: Mapped[str] = mapped_column(String(63))
    min_dynos: Mapped[int] = mapped_column(Integer)
    max_dynos: Mapped[int] = mapped_column(Integer)
    p95_ms: Mapped[int] = mapped_column(Integer)
    # Requests per minute one dyno serves at most (the throughput signal); None: off.
    requests_per_dyno: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Requests in flight one dyno takes on average at most (the concurrency signal); None: off.
    concurrency_per_dyno: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutoscaleEvent(Base):
    __tablename__ = "autoscale_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    process_type: Mapped[str] = mapped_column(String(63))
    from_quantity: Mapped[int] = mapped_column(Integer)
    to_quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
