"""second factor (TOTP) per account

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08

An account's time-based one-time-password secret, one being set up, and the step of the
last code accepted (OWASP ASVS 4.3.1: administrators sign in with a second factor; 2.8.4: a
code is used once).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = (
    ("totp_secret", sa.String(length=64)),
    ("totp_pending", sa.String(length=64)),
    ("totp_last_step", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name, kind in COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
