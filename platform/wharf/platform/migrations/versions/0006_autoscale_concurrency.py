"""autoscaling.concurrency_per_dyno: the requests in flight one dyno takes on average (the concurrency signal)

Revision ID: 0006_autoscale_concurrency
Revises: 0005_alerts
Create Date: 2026-12-04 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_autoscale_concurrency"
down_revision = "0005_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("autoscaling") as batch:
        batch.add_column(sa.Column("concurrency_per_dyno", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("autoscaling") as batch:
        batch.drop_column("concurrency_per_dyno")
