"""Add-on upkeep on the in-memory provider: it finishes, heals and backs up add-ons."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import select

from wharf.platform.addons import AddonProviders, build_addon_providers
from wharf.platform.addons.fake import FakeAddonProvider, FakeAddonWorld
from wharf.platform.addons.lifecycle import create_addon, finish_provisioning
from wharf.platform.addons.upkeep import UpkeepContext, upkeep_addons_once
from wharf.platform.db import session_scope
from wharf.platform.migrate import upgrade_database
from wharf.platform.models import Addon, AddonBackup, App, Event, User
from wharf.platform.records.releases import current_config
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Settings


@pytest.fixture
def context(tmp_path: Path) -> UpkeepContext:
    """A database of its own, since upkeep looks at every add-on in it."""
    database_url = f"sqlite:///{tmp_path / 'wharf.db'}"
    upgrade_database(database_url)
    providers = build_addon_providers(Settings(wharf_runtime="fake", wharf_data_dir=tmp_path))
    return UpkeepContext(
        database_url=database_url,
        cipher=ConfigCipher(secrets.token_hex(32)),
        providers=providers,
        backups_dir=tmp_path / "backups",
    )


def world(providers: AddonProviders) -> FakeAddonWorld:
    return cast(FakeAddonProvider, providers.for_kind("postgres")).world


def new_addon(context: UpkeepContext, kind: str = "postgres") -> tuple[int, str]:
    """An add-on recorded as provisioning, as the API leaves it before its background task runs."""
    with session_scope(context.database_url) as session:
        user = User(email=f"sup-{secrets.token_hex(4)}@example.com", password_hash="unused")
        session.add(user)
        session.flush()
        app = App(name=f"sup-{secrets.token_hex(4)}", owner_id=user.id)
        session.add(app)
        session.flush()
        addon = create_addon(
            session=session,
            cipher=context.cipher,
            providers=context.providers,
            app=app,
            actor=user,
            kind=kind,
        )
        return addon.id, addon.name


def test_an_interrupted_provisioning_is_finished_and_attached(context: UpkeepContext) -> None:
    addon_id, name = new_addon(context)

    actions = upkeep_addons_once(context, say=lambda _m: None)

    assert actions == [f"finished provisioning add-on {addon_id}"]
    with session_scope(context.database_url) as session:
        addon = session.get(Addon, addon_id)
        assert addon is not None and addon.status == "available"
        assert (
            f"@{name}:5432/"
            in current_config(session=session, cipher=context.cipher, app=addon.app)["DATABASE_URL"]
        )
    assert upkeep_addons_once(context, say=lambda _m: None) == []


def test_a_stopped_addon_is_started_and_an_unhealthy_one_restarted_keeping_data(
    context: UpkeepContext,
) -> None:
    addon_id, name = new_addon(context)
    finish_provisioning(
        database_url=context.database_url,
        cipher=context.cipher,
        providers=context.providers,
        addon_id=addon_id,
    )
    fake = world(context.providers)
    fake.addons[name].data["rows"] = "3"

    fake.crash(name)
    started = upkeep_addons_once(context, say=lambda _m: None)
    fake.break_health(name)
    restarted = upkeep_addons_once(context, say=lambda _m: None)

    assert started == [f"started {name} again (container exited); its data was kept"]
    assert restarted == [f"restarted {name}: health check failing"]
    assert fake.addons[name].running and fake.addons[name].healthy
    assert fake.addons[name].data == {"rows": "3"}


def test_an_addon_lost_with_its_host_starts_empty_and_says_how_to_restore_it(context: UpkeepContext) -> None:
    addon_id, name = new_addon(context)
    upkeep_addons_once(context, say=lambda _m: None)
    fake = world(context.providers)
    fake.addons[name].data["rows"] = "3"

    fake.lose(name)
    said = upkeep_addons_once(context, say=lambda _m: None)

    with session_scope(context.database_url) as session:
        app_name = session.get(Addon, addon_id).app.name  # type: ignore[union-attr]
        event = session.scalars(select(Event).where(Event.action == "addon-heal")).one()
    assert said == [
        f"started {name} again (no container and no volume); its volume was gone, so it starts empty: "
        f"restore a backup with `wharf pg:backups:restore -a {app_name} --confirm {app_name}`"
    ]
    assert event.message == said[0]
    assert fake.addons[name].running and fake.addons[name].data == {}


def test_scheduled_backups_are_taken_once_a_day_and_pruned_to_retention(context: UpkeepContext) -> None:
    addon_id, name = new_addon(context)
    upkeep_addons_once(context, say=lambda _m: None)
    with session_scope(context.database_url) as session:
        addon = session.get(Addon, addon_id)
        assert addon is not None
        addon.backup_at, addon.backup_retention = "02:00", 2
    day = datetime(2030, 1, 1, 1, 0, tzinfo=UTC)

    before_time = upkeep_addons_once(context, now=day, say=lambda _m: None)
    taken = [
        upkeep_addons_once(context, now=day + timedelta(days=n, hours=2), say=lambda _m: None)
        for n in range(3)
    ]
    again_same_day = upkeep_addons_once(context, now=day + timedelta(days=2, hours=5), say=lambda _m: None)

    assert before_time == [] and again_same_day == []
    assert taken[0] == [f"scheduled backup a001 of {name}: completed"]
    assert taken[2] == [f"scheduled backup a003 of {name}: completed; removed a001 beyond retention"]
    with session_scope(context.database_url) as session:
        labels = sorted(b.label for b in session.query(AddonBackup).filter_by(addon_id=addon_id))
    assert labels == ["a002", "a003"]
    assert sorted(p.name for p in (context.backups_dir / name).iterdir()) == [
        "a002.dump",
        "a003.dump",
    ]


def test_a_certificate_due_for_renewal_is_renewed_in_place_once(context: UpkeepContext) -> None:
    addon_id, name = new_addon(context, kind="redis")
    upkeep_addons_once(context, say=lambda _m: None)
    addon = world(context.providers).addons[name]
    addon.certificate_due = True

    actions = upkeep_addons_once(context, say=lambda _m: None)

    assert actions == [f"renewed the TLS certificate of {name} in place (serial 1), without a restart"]
    assert addon.restarts == 0 and addon.certificate_serial == 1
    assert upkeep_addons_once(context, say=lambda _m: None) == []
    with session_scope(context.database_url) as session:
        app_name = session.get(Addon, addon_id).app.name  # type: ignore[union-attr]
    with session_scope(context.database_url) as session:
        events = session.scalars(select(Event).where(Event.app_name == app_name)).all()
        assert any(e.action == "addon-certificate" for e in events)
