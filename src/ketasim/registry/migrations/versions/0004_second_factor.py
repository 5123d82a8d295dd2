"""second factor (TOTP) per account

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08

An account's time-based one-time-password secret and the step of the last code accepted
(OWASP ASVS 4.3.1: administrators sign in with a second factor; 2.8.4: a code is used once),
the time before which its sessions are void, and on a session, the secret it is setting up
(shown to that session alone).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = {
    "users": (
        ("totp_secret", sa.String(length=64)),
        ("totp_last_step", sa.Integer()),
        ("sessions_from", sa.DateTime(timezone=True)),
    ),
    "login_sessions": (("totp_pending", sa.String(length=64)),),
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, kind in columns:
                batch_op.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    # SQLite (3.35 or later) drops a column in place: rebuilding `users` would fail on the
    # foreign keys that point at it
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None, recreate="never") as batch_op:
            for name, _ in reversed(columns):
                batch_op.drop_column(name)
