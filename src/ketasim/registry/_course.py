"""The course of a stored patient: the planner's plan (versioned, approved by a prescriber),
the forecast updated from every stored score, the next session due, and the clinic's
dashboard (patients due, alerts, REMS forms pending)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from ketasim import DISCLAIMER
from ketasim.clinic.forecast import Forecast
from ketasim.clinic.patient import MAX_COURSE_DAY, PatientFile
from ketasim.clinic.plan import plan_patient
from ketasim.clinic.review import CourseReview
from ketasim.params import ParameterSet
from ketasim.registry._audit import audit
from ketasim.registry._auth import Actor, authorize
from ketasim.registry._care import Alert, CourseState, ScorePoint, alerts, course_state, first_session_at, trajectory
from ketasim.registry._db import RegistryError
from ketasim.registry._inputs import ClinicalFields, PatientIn
from ketasim.registry._models import DosingSessionRow, PatientRow, PlanRow, QuestionnaireRow, VitalSignRow
from ketasim.registry._registry import Registry, current_all
from ketasim.registry._views import (
    PatientRecord,
    QuestionnaireRecord,
    SessionRecord,
    VitalRecord,
    patient_record,
    questionnaire_record,
    session_record,
    vital_record,
)

PLAN_COPIES = 200
"""Virtual copies behind a stored plan's forecast (the planner's default is 400; 200 keeps a
request to a few seconds)."""


class StoredPlan(BaseModel):
    """A plan version and who approved it."""

    uid: str
    version: int
    patient_uid: str
    recorded_at: datetime
    approved_by: int | None
    plan: dict[str, Any]


class PatientStatus(BaseModel):
    """One patient's course: observed trajectory on the forecast band, response status, the
    next session due, and alerts."""

    patient_uid: str
    on: date
    state: CourseState
    trajectory: list[ScorePoint]
    forecast: Forecast | None
    review: CourseReview | None
    """The planner's course review (continue, review or stop) from the stored scores."""
    first_session: datetime | None
    sessions_done: int
    next_session_due: date | None
    next_session_basis: str
    alerts: list[Alert]
    forecast_note: str | None = None
    """Why there is no forecast or course review, when the planner cannot take the course."""
    disclaimer: str = DISCLAIMER


class DashboardRow(BaseModel):
    """One patient on the clinic dashboard."""

    patient_uid: str
    mrn: str
    name: str
    next_session_due: date | None
    due: bool
    alerts: list[Alert]


class Dashboard(BaseModel):
    """The clinic's day: patients due or overdue, alerts, REMS forms pending."""

    on: date
    site: str
    due_today: list[DashboardRow]
    with_alerts: list[DashboardRow]
    rems_pending: int
    disclaimer: str = DISCLAIMER


@dataclass(frozen=True)
class _Course:
    patient: PatientRecord
    sessions: list[SessionRecord]
    vitals: dict[str, list[VitalRecord]]
    questionnaires: list[QuestionnaireRecord]
    plan: PlanRow | None


def _load(db: Session, row: PatientRow) -> _Course:
    sessions = sorted(
        (session_record(s) for s in current_all(db, DosingSessionRow, DosingSessionRow.patient_uid == row.uid)),
        key=lambda s: s.started_at,
    )
    uids = [s.uid for s in sessions]
    vit: dict[str, list[VitalRecord]] = {u: [] for u in uids}
    if uids:
        for v in current_all(db, VitalSignRow, VitalSignRow.session_uid.in_(uids)):
            vit[v.session_uid].append(vital_record(v))
    qs = sorted(
        (questionnaire_record(q) for q in current_all(db, QuestionnaireRow, QuestionnaireRow.patient_uid == row.uid)),
        key=lambda q: q.taken_at,
    )
    plans = current_all(db, PlanRow, PlanRow.patient_uid == row.uid)
    plan = max(plans, key=lambda p: p.recorded_at) if plans else None
    return _Course(patient=patient_record(row), sessions=sessions, vitals=vit, questionnaires=qs, plan=plan)


def planner_file(record: PatientRecord, on: date, points: list[ScorePoint]) -> PatientFile:
    """The planner's patient file of a stored patient on a date, with the observed scores."""
    p = PatientIn(
        mrn=record.mrn,
        given_name=record.given_name,
        family_name=record.family_name,
        birth_date=record.birth_date,
        sex=record.sex,
        consent_off_label=record.consent_off_label,
        clinical=ClinicalFields.model_validate(record.clinical),
    )
    scale = points[0].instrument if points else ""
    observed = tuple({"day": round(pt.day, 4), "scale": scale, "score": pt.score} for pt in points)
    return p.planner_patient(on, observed)


def beyond_planner(points: list[ScorePoint]) -> str | None:
    """Why the planner cannot take this course's scores (the latest lies past the planner's
    last course day, counted from the first session), or None."""
    if not points or points[-1].day <= MAX_COURSE_DAY:
        return None
    last = points[-1]
    return (
        f"the latest {last.instrument} score ({last.taken_at.date()}) falls on day {last.day:.0f} after the first "
        f"session; the planner forecasts a course of at most {MAX_COURSE_DAY} days"
    )


def save_plan(registry: Registry, actor: Actor, patient_uid: str, params: ParameterSet | None = None) -> StoredPlan:
    """Run the planner on the stored patient (with every stored score) and keep the plan as
    a new version, not yet approved."""
    with registry._unit(actor, "plan") as db:
        row = registry._patient_for(db, actor, patient_uid, "write_clinical")
        course = _load(db, row)
        on = datetime.now(UTC).date()
        points = trajectory(course.patient, course.sessions, course.questionnaires)
        if (why := beyond_planner(points)) is not None:
            raise RegistryError.one("patient_uid", f"{patient_uid} cannot be planned from its stored course: {why}")
        plan = plan_patient(planner_file(course.patient, on, points), copies=PLAN_COPIES, params=params)
        old = course.plan
        new = PlanRow(
            uid=old.uid if old else str(uuid.uuid4()),
            version=old.version + 1 if old else 1,
            recorded_at=datetime.now(UTC),
            recorded_by=actor.id,
            reason="replanned from the stored course" if old else None,
            patient_uid=patient_uid,
            plan=plan.model_dump(mode="json"),
            approved_by=None,
        )
        db.add(new)
        db.flush()
        audit(db, actor, "create", "plan", new.uid, patient_uid=patient_uid)
        return _stored(new)


def approve_plan(registry: Registry, actor: Actor, patient_uid: str) -> StoredPlan:
    """A prescriber approves the newest plan (kept as a new version naming them)."""
    with registry._unit(actor, "plan") as db:
        registry._patient_for(db, actor, patient_uid, "approve_plan")
        plans = current_all(db, PlanRow, PlanRow.patient_uid == patient_uid)
        if not plans:
            raise RegistryError.one("patient_uid", "has no plan to approve: save one first")
        old = max(plans, key=lambda p: p.recorded_at)
        new = PlanRow(
            uid=old.uid,
            version=old.version + 1,
            recorded_at=datetime.now(UTC),
            recorded_by=actor.id,
            reason="approved",
            patient_uid=patient_uid,
            plan=old.plan,
            approved_by=actor.id,
        )
        db.add(new)
        db.flush()
        audit(db, actor, "approve", "plan", new.uid, patient_uid=patient_uid)
        return _stored(new)


def _stored(row: PlanRow) -> StoredPlan:
    return StoredPlan(
        uid=row.uid,
        version=row.version,
        patient_uid=row.patient_uid,
        recorded_at=row.recorded_at if row.recorded_at.tzinfo else row.recorded_at.replace(tzinfo=UTC),
        approved_by=row.approved_by,
        plan=dict(row.plan),
    )


def next_due(
    plan: dict[str, Any] | None, sessions: list[SessionRecord], forecast: Forecast | None
) -> tuple[date | None, str]:
    """The next session's date: the plan's next session after those done, then the last
    session plus the forecast's suggested maintenance interval."""
    start = first_session_at(sessions)
    if start is None:
        return None, "no session yet"
    done = len(sessions)
    planned = (plan or {}).get("regimen", {}).get("sessions", [])
    if done < len(planned):
        return (
            start + timedelta(days=float(planned[done]["day"]))
        ).date(), f"planned session {done + 1} of {len(planned)}"
    interval = forecast.suggested_maintenance_interval_days if forecast else None
    if interval is None and plan and plan.get("forecast"):
        interval = plan["forecast"].get("suggested_maintenance_interval_days")
    if interval is None:
        return None, "planned sessions done; no maintenance interval (no response forecast)"
    last = max(s.started_at for s in sessions)
    return (last + timedelta(days=float(interval))).date(), f"maintenance every {float(interval):g} days (forecast)"


def patient_status(
    registry: Registry, actor: Actor, patient_uid: str, on: date | None = None, params: ParameterSet | None = None
) -> PatientStatus:
    """The patient's course today: trajectory, forecast band updated from every stored score,
    response status, next session due and alerts."""
    on = on or datetime.now(UTC).date()
    with registry._unit(actor, "status", patient_uid) as db:
        row = registry._patient_for(db, actor, patient_uid, "read_clinical")
        course = _load(db, row)
        audit(db, actor, "read", "status", patient_uid, patient_uid=patient_uid)
    points = trajectory(course.patient, course.sessions, course.questionnaires)
    note = beyond_planner(points)
    planned = (
        None if note else plan_patient(planner_file(course.patient, on, points), copies=PLAN_COPIES, params=params)
    )
    forecast = planned.forecast if planned else None
    due, basis = next_due(dict(course.plan.plan) if course.plan else None, course.sessions, forecast)
    return PatientStatus(
        patient_uid=patient_uid,
        on=on,
        state=course_state(course.patient, points),
        trajectory=points,
        forecast=forecast,
        review=planned.course_review if planned else None,
        first_session=first_session_at(course.sessions),
        sessions_done=len(course.sessions),
        next_session_due=due,
        next_session_basis=basis,
        alerts=alerts(course.patient, course.sessions, course.vitals, course.questionnaires, on),
        forecast_note=f"no forecast or course review: {note}" if note else None,
    )


def dashboard(registry: Registry, actor: Actor, on: date | None = None) -> Dashboard:
    """The site's patients due on or before ``on``, those with alerts, and REMS forms pending
    (no forecast is run: due dates come from the stored plans)."""
    on = on or datetime.now(UTC).date()
    with registry._unit(actor, "dashboard") as db:
        authorize(actor, "read_clinical")
        rows = current_all(db, PatientRow, PatientRow.site == actor.site)
        courses = [_load(db, r) for r in rows]
        audit(db, actor, "read", "dashboard", None)
    due_rows, alert_rows, pending = [], [], 0
    for c in courses:
        due, _ = next_due(dict(c.plan.plan) if c.plan else None, c.sessions, None)
        found = alerts(c.patient, c.sessions, c.vitals, c.questionnaires, on)
        entry = DashboardRow(
            patient_uid=c.patient.uid,
            mrn=c.patient.mrn,
            name=f"{c.patient.family_name}, {c.patient.given_name}",
            next_session_due=due,
            due=due is not None and due <= on,
            alerts=found,
        )
        if entry.due:
            due_rows.append(entry)
        if found:
            alert_rows.append(entry)
        pending += sum(1 for s in c.sessions if s.drug == "esketamine" and not (s.rems or {}).get("submitted_at"))
    alert_rows.sort(key=lambda r: (0 if any(a.severity == "high" for a in r.alerts) else 1, r.name))
    return Dashboard(
        on=on,
        site=actor.site,
        due_today=sorted(due_rows, key=lambda r: (r.next_session_due or on, r.name)),
        with_alerts=alert_rows,
        rems_pending=pending,
    )


def latest_plan(registry: Registry, actor: Actor, patient_uid: str) -> StoredPlan | None:
    """The newest stored plan of a patient, or None."""
    with registry._unit(actor, "plan") as db:
        registry._patient_for(db, actor, patient_uid, "read_clinical")
        plans = current_all(db, PlanRow, PlanRow.patient_uid == patient_uid)
        audit(db, actor, "read", "plan", None, patient_uid=patient_uid)
        return _stored(max(plans, key=lambda p: p.recorded_at)) if plans else None
