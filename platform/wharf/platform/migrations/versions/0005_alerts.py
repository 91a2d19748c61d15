"""alerts and autoscaling

Revision ID: 0005_alerts
Revises: 0004_token_expiry
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wharf.platform.db

revision = "0005_alerts"
down_revision = "0004_token_expiry"
branch_labels = None
depends_on = None


def _app_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["app_id"], ["apps.id"], name=op.f(f"fk_{table}_app_id_apps"), ondelete="CASCADE"
    )


def upgrade() -> None:
    utc = wharf.platform.db.UTCDateTime(timezone=True)
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("webhook_url", sa.String(length=2048), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("for_minutes", sa.Integer(), nullable=False),
        sa.Column("repeat_minutes", sa.Integer(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("last_fired_at", utc, nullable=True),
        sa.Column("last_notified_at", utc, nullable=True),
        sa.Column("created_at", utc, nullable=False),
        _app_fk("alerts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_table(
        "autoscaling",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("process_type", sa.String(length=63), nullable=False),
        sa.Column("min_dynos", sa.Integer(), nullable=False),
        sa.Column("max_dynos", sa.Integer(), nullable=False),
        sa.Column("p95_ms", sa.Integer(), nullable=False),
        sa.Column("requests_per_dyno", sa.Integer(), nullable=True),
        sa.Column("created_at", utc, nullable=False),
        _app_fk("autoscaling"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autoscaling")),
        sa.UniqueConstraint("app_id", "process_type", name="uq_autoscaling_app_type"),
    )
    op.create_table(
        "autoscale_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("process_type", sa.String(length=63), nullable=False),
        sa.Column("from_quantity", sa.Integer(), nullable=False),
        sa.Column("to_quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        _app_fk("autoscale_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autoscale_events")),
    )
    for table in ("alerts", "autoscaling", "autoscale_events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_app_id"), ["app_id"], unique=False)


def downgrade() -> None:
    for table in ("autoscale_events", "autoscaling", "alerts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_app_id"))
        op.drop_table(table)
