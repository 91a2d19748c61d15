"""Change notifiers each wake the scheduler on their own Redis client, not the first one installed."""

from __future__ import annotations

from typing import Any, cast

import redis
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from wharf.platform.scheduler.notify import WAKE_CHANNEL, ChangeNotifier


class Base(DeclarativeBase):
    pass


class Watched(Base):
    __tablename__ = "watched"
    id: Mapped[int] = mapped_column(primary_key=True)


class Publisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    def publish(self, channel: str, message: bytes) -> None:
        self.published.append((channel, message))


def client(publisher: Publisher) -> redis.Redis[bytes]:
    return cast("redis.Redis[bytes]", cast(Any, publisher))


def test_two_notifiers_each_publish_on_their_own_client() -> None:
    first, second = Publisher(), Publisher()
    notifiers = [
        ChangeNotifier(lambda: client(first), [Watched]),
        ChangeNotifier(lambda: client(second), [Watched]),
    ]
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    for notifier in notifiers:
        notifier.install()
        notifier.install()
    try:
        with Session(engine) as session:
            session.add(Watched(id=1))
            session.commit()
            session.commit()
    finally:
        for notifier in notifiers:
            notifier.uninstall()
    assert first.published == [(WAKE_CHANNEL, b"*")]
    assert second.published == [(WAKE_CHANNEL, b"*")]


def test_an_uninstalled_notifier_stays_quiet() -> None:
    publisher = Publisher()
    notifier = ChangeNotifier(lambda: client(publisher), [Watched])
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    notifier.install()
    notifier.uninstall()
    with Session(engine) as session:
        session.add(Watched(id=1))
        session.commit()
    assert publisher.published == []
