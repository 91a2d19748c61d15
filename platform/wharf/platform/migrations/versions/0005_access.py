"""collaborators, teams and team apps

Revision ID: 0005_access
Revises: 0004_token_expiry
Create Date: 2026-12-02 04:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wharf.platform.db

revision = "0005_access"
down_revision = "0004_token_expiry"
branch_labels = None
depends_on = None


def _user_role_table(table: str, parent: str, parent_column: str) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(parent_column, sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            [parent_column], [f"{parent}.id"], name=f"fk_{table}_{parent_column}_{parent}", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.UniqueConstraint(parent_column, "user_id", name=f"uq_{table}_{parent_column}"),
    )
    with op.batch_alter_table(table) as batch:
        batch.create_index(f"ix_{table}_{parent_column}", [parent_column], unique=False)
        batch.create_index(f"ix_{table}_user_id", ["user_id"], unique=False)


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("created_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.UniqueConstraint("name", name="uq_teams_name"),
    )
    _user_role_table("collaborators", "apps", "app_id")
    _user_role_table("team_members", "teams", "team_id")
    op.create_table(
        "team_apps",
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name="fk_team_apps_app_id_apps", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_team_apps_team_id_teams", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("app_id", name="pk_team_apps"),
    )
    with op.batch_alter_table("team_apps") as batch:
        batch.create_index("ix_team_apps_team_id", ["team_id"], unique=False)


def downgrade() -> None:
    op.drop_table("team_apps")
    op.drop_table("team_members")
    op.drop_table("collaborators")
    op.drop_table("teams")
