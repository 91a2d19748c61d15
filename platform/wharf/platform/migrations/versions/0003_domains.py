"""custom domains and certificates

Revision ID: 0003_domains
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wharf.platform.db

revision = "0003_domains"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(length=253), nullable=False),
        sa.Column("created_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_domains_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domains")),
        sa.UniqueConstraint("hostname", name=op.f("uq_domains_hostname")),
    )
    op.create_index(op.f("ix_domains_app_id"), "domains", ["app_id"], unique=False)
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("hostnames", sa.String(length=2000), nullable=False),
        sa.Column("cert_path", sa.String(length=500), nullable=False),
        sa.Column("key_path", sa.String(length=500), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("redirect_http", sa.Boolean(), nullable=False),
        sa.Column("expires_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", wharf.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_certificates_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
    )
    op.create_index(op.f("ix_certificates_app_id"), "certificates", ["app_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_certificates_app_id"), table_name="certificates")
    op.drop_table("certificates")
    op.drop_index(op.f("ix_domains_app_id"), table_name="domains")
    op.drop_table("domains")
