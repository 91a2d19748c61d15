"""apps.acm: whether the router obtains ACME certificates for the app's custom domains (on by default)

Revision ID: 0005_acm
Revises: 0004_token_expiry
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_acm"
down_revision = "0004_token_expiry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("acm", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("acm")
