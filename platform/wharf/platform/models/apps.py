"""Apps: a name, an owner and the counter that numbers its releases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wharf.platform.db import Base, UTCDateTime, utcnow
from wharf.platform.models.users import User


class App(Base):
    __tablename__ = "apps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    # Automatic (ACME) certificates for the app's custom domains, as Heroku's ACM: on unless turned off.
    acm: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Bumped atomically to number releases without races.
    release_counter: Mapped[int] = mapped_column(Integer, default=0)
    # The release that serves traffic (None before the first deploy).
    current_release_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship()
