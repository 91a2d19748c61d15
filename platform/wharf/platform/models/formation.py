"""Formation: how many dynos of each process type an app wants, and their size."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wharf.platform.db import Base


class Formation(Base):
    __tablename__ = "formations"
    __table_args__ = (UniqueConstraint("app_id", "process_type", name="uq_formations_app_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    process_type: Mapped[str] = mapped_column(String(30))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[str] = mapped_column(String(20), default="basic")
