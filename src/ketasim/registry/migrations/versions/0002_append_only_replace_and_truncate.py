"""append-only against REPLACE and TRUNCATE

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

An audit of the registry (2026-12-07) found two ways around the UPDATE/DELETE triggers of
0001: SQLite's ``INSERT OR REPLACE`` deletes the row it collides with without firing a DELETE
trigger (recursive triggers are off by default), and PostgreSQL's ``TRUNCATE`` fires no row
trigger. SQLite now refuses an INSERT whose id, or whose (uid, version), is already stored;
PostgreSQL refuses TRUNCATE on the same tables.
"""

from __future__ import annotations

from alembic import op

APPEND_ONLY = ("patients", "plans", "dosing_sessions", "vital_signs", "questionnaires", "audit_events")
VERSIONED = APPEND_ONLY[:-1]

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ketasim_append_only()"
            )
        return
    for table in APPEND_ONLY:
        stored = f"EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id)"
        if table in VERSIONED:
            stored += f" OR EXISTS (SELECT 1 FROM {table} WHERE uid = NEW.uid AND version = NEW.version)"
        op.execute(
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} WHEN {stored} "
            f"BEGIN SELECT RAISE(ABORT, 'ketasim registry: REPLACE on {table} is not allowed (append-only)'); END"
        )


def downgrade() -> None:
    suffix = "no_truncate ON {table}" if op.get_bind().dialect.name == "postgresql" else "no_replace"
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix.format(table=table)}")
