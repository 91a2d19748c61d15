"""Bodies for apps, releases, formation and events."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AppCreate(BaseModel):
    name: str | None = Field(default=None, max_length=100)
    # A team the creator is a member or admin of: the app is the team's.
    team: str | None = Field(default=None, max_length=100)


class AppPublic(BaseModel):
    id: int
    name: str
    owner: str
    web_url: str
    git_url: str
    maintenance: bool
    # Automatic (ACME) certificates for the custom domains (`wharf certs:auto:enable` / `:disable`).
    acm: bool
    current_release: int | None
    created_at: datetime
    # The caller's role on the app (the owner is an admin), and the team holding it.
    role: str | None = None
    team: str | None = None


class ReleasePublic(BaseModel):
    version: int
    description: str
    status: str
    build_id: int | None
    # The Docker image id the release runs: a promoted release has the upstream release's.
    image_id: str | None = None
    # Where it came from: initial, push, promotion, rollback, config, addon (None: made before this was kept).
    source: str | None = None
    created_by: str | None
    created_at: datetime
    current: bool
    # The status of the test run this release went live after (app.json environments.test), if any.
    test_status: str | None = None


class FormationPublic(BaseModel):
    type: str
    quantity: int
    size: str


class FormationUpdateItem(BaseModel):
    type: str = Field(min_length=1, max_length=30)
    quantity: int | None = None
    size: str | None = None


class FormationUpdate(BaseModel):
    updates: list[FormationUpdateItem]


class EventPublic(BaseModel):
    id: int
    actor: str
    action: str
    message: str
    created_at: datetime
