"""Beta invite codes (stored as SHA-256 digests) and who redeemed them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wharf.platform.db import Base, UTCDateTime, utcnow
from wharf.platform.models.users import User


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    # None: made by the operator with `wharfd invites create`.
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    grants_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    redemptions: Mapped[list[InviteRedemption]] = relationship(
        back_populates="invite", cascade="all, delete-orphan", order_by="InviteRedemption.id"
    )


class InviteRedemption(Base):
    __tablename__ = "invite_redemptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    invite: Mapped[Invite] = relationship(back_populates="redemptions")
    user: Mapped[User] = relationship()
