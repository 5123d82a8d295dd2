"""What the registry returns: typed records (never the ORM rows themselves)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from ketasim.registry._models import DosingSessionRow, PatientRow, QuestionnaireRow, VitalSignRow


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class _Record(BaseModel):
    """Read from an ORM row; times are UTC (SQLite hands them back without a zone)."""

    model_config = ConfigDict(from_attributes=True)

    @field_validator("*", mode="after")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        return _utc(value) if isinstance(value, datetime) else value


class PatientRecord(_Record):
    """A patient's record (one version)."""

    uid: str
    version: int
    recorded_at: datetime
    reason: str | None
    site: str
    mrn: str
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    consent_off_label: bool
    clinical: dict[str, Any]


class SessionRecord(_Record):
    """A treatment session (one version)."""

    uid: str
    version: int
    patient_uid: str
    started_at: datetime
    drug: str
    route: str
    dose_mg: float
    lot_number: str | None = None
    device_times_min: list[float] | None = None
    infusion_end_min: float | None = None
    infusion_rate_mg_per_h: float | None = None
    cadss_max: float | None = None
    moaas_min: int | None = None
    adverse_events: list[str] = []
    ready_for_discharge_min: float | None = None
    discharged_by: int | None = None
    rems: dict[str, Any] | None = None


class VitalRecord(_Record):
    """One reading."""

    uid: str
    session_uid: str
    taken_at: datetime
    systolic_mmhg: float | None
    diastolic_mmhg: float | None
    heart_rate_bpm: float | None
    spo2_pct: float | None
    respiratory_rate_per_min: float | None


class QuestionnaireRecord(_Record):
    """One questionnaire or rating."""

    uid: str
    version: int
    patient_uid: str
    instrument: str
    taken_at: datetime
    items: list[int] | None
    total: float


class AuditRow(_Record):
    """One audit event."""

    id: int
    at: datetime
    user_id: int | None
    username: str
    action: str
    entity: str
    entity_uid: str | None
    patient_uid: str | None
    outcome: str


class EmergencyGrant(_Record):
    """A break-glass grant: who may reach which patient of another site, why, until when."""

    uid: str
    at: datetime
    user_id: int
    patient_uid: str
    reason: str
    until: datetime


def patient_record(r: PatientRow) -> PatientRecord:
    """The typed view of a patient row."""
    return PatientRecord.model_validate(r)


def session_record(r: DosingSessionRow) -> SessionRecord:
    """The typed view of a session row (its details spread into fields)."""
    fields = ("uid", "version", "patient_uid", "started_at", "drug", "route", "dose_mg")
    return SessionRecord.model_validate({**{f: getattr(r, f) for f in fields}, **r.details})


def vital_record(r: VitalSignRow) -> VitalRecord:
    """The typed view of a reading."""
    return VitalRecord.model_validate(r)


def questionnaire_record(r: QuestionnaireRow) -> QuestionnaireRecord:
    """The typed view of a questionnaire row."""
    return QuestionnaireRecord.model_validate(r)
