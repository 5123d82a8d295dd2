"""The registry's tables (SQLAlchemy 2, typed mappings).

Clinical rows are never updated or deleted: a correction is a new row with the same ``uid``
and the next ``version`` (and the reason), so every earlier version stays readable; the
current record is the highest version.  The audit table is append-only too.  Triggers in
the migration refuse UPDATE and DELETE on these tables in SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every registry table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """A personal account (HIPAA §164.312(a)(2)(i): no shared logins)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    site: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The second factor's TOTP secret (base32), once confirmed."""
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The 30-s step of the last code accepted (a code is used once)."""
    sessions_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """Sessions whose credentials were checked before this time are void (set when the
    account's password, role or second factor changes; closes the race with a sign-in under way)."""


class LoginSession(Base):
    """A server-side session: the cookie carries a random token, the table its SHA-256."""

    __tablename__ = "login_sessions"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    totp_pending: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """A second factor this session is setting up (shown to it alone), not yet confirmed."""


class _Versioned:
    """A clinical row: ``uid`` names the record, ``version`` counts its corrections."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class PatientRow(_Versioned, Base):
    """A patient's identity and the planner's patient fields (``clinical``)."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("uid", "version"),)
    site: Mapped[str] = mapped_column(String(64))
    mrn: Mapped[str] = mapped_column(String(64), index=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10))
    consent_off_label: Mapped[bool] = mapped_column(Boolean)
    clinical: Mapped[dict[str, Any]] = mapped_column(JSON)


class PlanRow(_Versioned, Base):
    """The planner's output for a patient, and the clinician who approved it."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("uid", "version"),)
    patient_uid: Mapped[str] = mapped_column(String(36), index=True)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class DosingSessionRow(_Versioned, Base):
    """One treatment session: drug, route, dose and its monitoring."""

    __tablename__ = "dosing_sessions"
    __table_args__ = (UniqueConstraint("uid", "version"),)
    patient_uid: Mapped[str] = mapped_column(String(36), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    drug: Mapped[str] = mapped_column(String(40))
    route: Mapped[str] = mapped_column(String(20))
    dose_mg: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Lot number, device times, infusion start/end and rate, CADSS, MOAA/S, adverse events,
    time ready for discharge, the discharging clinician, the REMS answers."""


class VitalSignRow(_Versioned, Base):
    """A reading during a session (any of BP, heart rate, SpO2, respiratory rate)."""

    __tablename__ = "vital_signs"
    __table_args__ = (UniqueConstraint("uid", "version"),)
    session_uid: Mapped[str] = mapped_column(String(36), index=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    systolic_mmhg: Mapped[float | None] = mapped_column(Float, nullable=True)
    diastolic_mmhg: Mapped[float | None] = mapped_column(Float, nullable=True)
    heart_rate_bpm: Mapped[float | None] = mapped_column(Float, nullable=True)
    spo2_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    respiratory_rate_per_min: Mapped[float | None] = mapped_column(Float, nullable=True)


class QuestionnaireRow(_Versioned, Base):
    """A questionnaire between sessions: item answers where the instrument has items."""

    __tablename__ = "questionnaires"
    __table_args__ = (UniqueConstraint("uid", "version"),)
    patient_uid: Mapped[str] = mapped_column(String(36), index=True)
    instrument: Mapped[str] = mapped_column(String(20))
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    items: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    total: Mapped[float] = mapped_column(Float)


class AuditEvent(Base):
    """Who did what to which record, when (HIPAA §164.312(b)); identifiers only, never
    names, scores or free text from the record."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    patient_uid: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(20))


class EmergencyAccess(Base):
    """A break-glass grant (HIPAA §164.312(a)(2)(ii)): a clinician reaches a patient of another
    site, for a stated reason, until a time; the grant and every use of it are audited."""

    __tablename__ = "emergency_access"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    patient_uid: Mapped[str] = mapped_column(String(36), index=True)
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))


APPEND_ONLY = (
    "patients",
    "plans",
    "dosing_sessions",
    "vital_signs",
    "questionnaires",
    "audit_events",
    "emergency_access",
)
"""Tables whose rows are never updated or deleted (enforced by triggers)."""
