"""Log drains: where an app's log lines are forwarded (syslog over TCP or TLS, or HTTPS batches)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wharf.platform.db import Base, UTCDateTime, utcnow


class LogDrain(Base):
    __tablename__ = "log_drains"
    __table_args__ = (UniqueConstraint("app_id", "url", name="uq_log_drains_app_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    # Sent with every HTTPS batch (Logplex-Drain-Token), so a receiver can tell drains apart.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
