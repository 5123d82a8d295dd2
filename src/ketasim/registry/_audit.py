"""The audit trail: one append-only row per read, write, export and login (HIPAA
§164.312(b); ASVS 7.1.1–7.1.2: identifiers only — no names, scores, passwords or tokens)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ketasim.registry._models import AuditEvent

if TYPE_CHECKING:
    from ketasim.registry._auth import Actor


def audit(
    db: Session,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_uid: str | None,
    *,
    patient_uid: str | None = None,
    outcome: str = "ok",
    username: str | None = None,
) -> None:
    """Append one audit event in the caller's transaction."""
    db.add(
        AuditEvent(
            at=datetime.now(UTC),
            user_id=actor.id if actor else None,
            username=(actor.username if actor else username) or "-",
            action=action,
            entity=entity,
            entity_uid=entity_uid,
            patient_uid=patient_uid,
            outcome=outcome,
        )
    )
