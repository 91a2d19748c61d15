"""add-ons and their backups

Revision ID: 0003_addons
Revises: 0002
Create Date: 2026-11-27 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wharf.platform.db

revision = "0003_addons"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "addons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("attachment", sa.String(length=128), nullable=False),
        sa.Column("credentials_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_message", sa.String(length=2000), nullable=False),
        sa.Column("backup_at", sa.String(length=5), nullable=True),
        sa.Column("backup_retention", sa.Integer(), nullable=False),
        sa.Column("backup_counter", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_addons_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_addons_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addons")),
        sa.UniqueConstraint("name", name=op.f("uq_addons_name")),
    )
    with op.batch_alter_table("addons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_addons_app_id"), ["app_id"], unique=False)

    op.create_table(
        "addon_backups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("addon_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("scheduled", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("failure", sa.String(length=2000), nullable=True),
        sa.Column("created_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["addon_id"], ["addons.id"], name=op.f("fk_addon_backups_addon_id_addons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addon_backups")),
        sa.UniqueConstraint("addon_id", "number", name="uq_addon_backups_addon_number"),
    )
    with op.batch_alter_table("addon_backups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_addon_backups_addon_id"), ["addon_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("addon_backups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_addon_backups_addon_id"))
    op.drop_table("addon_backups")
    with op.batch_alter_table("addons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_addons_app_id"))
    op.drop_table("addons")
