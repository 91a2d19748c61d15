"""Add-ons: a dedicated service attached to one app, and the backups taken of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wharf.platform.db import Base, UTCDateTime, utcnow
from wharf.platform.models.apps import App


class Addon(Base):
    __tablename__ = "addons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique across the installation, like Heroku's `postgresql-shiny-12345`; also the container's name.
    name: Mapped[str] = mapped_column(String(60), unique=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # The config var that carries the URL: DATABASE_URL, REDIS_URL, CACHE_URL...
    attachment: Mapped[str] = mapped_column(String(128))
    # Credentials and URL as encrypted JSON (Fernet), like config vars.
    credentials_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # provisioning -> available | failed; deprovisioning while it is being destroyed.
    status: Mapped[str] = mapped_column(String(20), default="provisioning")
    status_message: Mapped[str] = mapped_column(String(2000), default="")
    # Daily backups at this UTC time ("HH:MM"), keeping the newest `backup_retention` of them.
    backup_at: Mapped[str | None] = mapped_column(String(5), nullable=True)
    backup_retention: Mapped[int] = mapped_column(Integer, default=7)
    backup_counter: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    app: Mapped[App] = relationship()


class AddonBackup(Base):
    __tablename__ = "addon_backups"
    __table_args__ = (UniqueConstraint("addon_id", "number", name="uq_addon_backups_addon_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    addon_id: Mapped[int] = mapped_column(ForeignKey("addons.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # True for backups taken on the schedule, which retention prunes; manual ones stay.
    scheduled: Mapped[bool] = mapped_column(default=False)
    # running -> completed | failed
    status: Mapped[str] = mapped_column(String(20), default="running")
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def label(self) -> str:
        """Heroku's backup ids: `b001` for manual backups, `a001` for scheduled ones."""
        return f"{'a' if self.scheduled else 'b'}{self.number:03d}"
