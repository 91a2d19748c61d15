"""pipelines, review apps and release provenance

Revision ID: 0005_pipelines
Revises: 0004_token_expiry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wharf.platform.db

revision = "0005_pipelines"
down_revision = "0004_token_expiry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("review_enabled", sa.Boolean(), nullable=False),
        sa.Column("review_pattern", sa.String(length=100), nullable=False),
        sa.Column("review_idle_days", sa.Integer(), nullable=False),
        sa.Column("created_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_pipelines_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipelines")),
        sa.UniqueConstraint("name", name=op.f("uq_pipelines_name")),
    )
    op.create_index(op.f("ix_pipelines_owner_id"), "pipelines", ["owner_id"], unique=False)
    op.create_table(
        "pipeline_apps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("review_branch", sa.String(length=255), nullable=True),
        sa.Column("last_push_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("postdeploy_done", sa.Boolean(), nullable=False),
        sa.Column("created_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name=op.f("fk_pipeline_apps_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_pipeline_apps_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_apps")),
        sa.UniqueConstraint("app_id", name=op.f("uq_pipeline_apps_app_id")),
    )
    op.create_index(op.f("ix_pipeline_apps_pipeline_id"), "pipeline_apps", ["pipeline_id"], unique=False)
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("image_id", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("source", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("source")
        batch.drop_column("image_id")
    op.drop_index(op.f("ix_pipeline_apps_pipeline_id"), table_name="pipeline_apps")
    op.drop_table("pipeline_apps")
    op.drop_index(op.f("ix_pipelines_owner_id"), table_name="pipelines")
    op.drop_table("pipelines")
