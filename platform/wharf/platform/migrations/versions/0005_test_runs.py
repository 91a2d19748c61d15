"""test runs, and the test run a release went live after

Revision ID: 0005_test_runs
Revises: 0004_token_expiry
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wharf.platform.db

revision = "0005_test_runs"
down_revision = "0004_token_expiry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "test_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("app_id", sa.Integer(), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(500), nullable=True),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("image", sa.String(255), nullable=True),
        sa.Column("environment", sa.JSON(), nullable=True),
        sa.Column("build_id", sa.Integer(), nullable=True),
        sa.Column("release_version", sa.Integer(), nullable=True),
        sa.Column(
            "created_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("created_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("app_id", "number", name="uq_test_runs_app_number"),
    )
    op.create_index("ix_test_runs_app_id", "test_runs", ["app_id"])
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("test_run_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_releases_test_run_id", "test_runs", ["test_run_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_constraint("fk_releases_test_run_id", type_="foreignkey")
        batch.drop_column("test_run_id")
    op.drop_index("ix_test_runs_app_id", table_name="test_runs")
    op.drop_table("test_runs")
