"""Measurement-based care from the stored course: the observed trajectory, response and
remission by the scale's rules, and the alerts a clinic team acts on.  Pure functions of the
records (no database), so each rule can be tested on its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel

from ketasim.clinic.measurement import max_gap_days
from ketasim.io.data import read_packaged_yaml
from ketasim.registry._inputs import instruments
from ketasim.registry._views import PatientRecord, QuestionnaireRecord, SessionRecord, VitalRecord
from ketasim.vocabulary import condition as condition_entry
from ketasim.vocabulary import scale as scale_entry

SEVERE_SBP_MMHG = 180.0
SEVERE_DBP_MMHG = 110.0
SEVERE_SOURCE = "SPRAVATO label Table 6: SBP >= 180 or DBP >= 110 mmHg (clinic-registry.md §1; dossier §6.3)"
INDUCTION_DAYS = 28.0
"""The first 4 weeks from the first session are judged by the induction rhythm (the longest
induction, esketamine's, is 4 weeks; an IV series of 12 days is judged the stricter way)."""
REMS_DEADLINE_SOURCE = "REMS Patient Monitoring Form: submit within 7 days of the session (clinic-registry.md §2)"


@cache
def _monitoring() -> dict[str, Any]:
    data: dict[str, Any] = read_packaged_yaml("clinic/monitoring.yaml")
    return data


def hold_limits() -> tuple[float, float, str]:
    """(systolic, diastolic, source) above which a dose is held (``clinic/monitoring.yaml``)."""
    m = _monitoring()
    return (
        float(m["bp_hold_systolic_mmhg"]["value"]),
        float(m["bp_hold_diastolic_mmhg"]["value"]),
        str(m["bp_hold_systolic_mmhg"]["source"]),
    )


def rems_deadline_days() -> float:
    """Days allowed to submit a REMS Patient Monitoring Form."""
    return float(_monitoring()["esketamine"]["rems_form_deadline_days"]["value"])


AlertKind = Literal[
    "suicidal_ideation_item",
    "cssrs_positive_screen",
    "bp_over_hold_limits",
    "bp_severe",
    "missed_questionnaire",
    "loss_of_response",
    "rems_overdue",
]


class Alert(BaseModel):
    """Something the team should act on, with the rule's source."""

    kind: AlertKind
    severity: Literal["high", "medium"]
    patient_uid: str
    record_uid: str | None
    at: datetime
    message: str
    source: str


class ScorePoint(BaseModel):
    """An observed score on the forecast's scale, days from the first session."""

    day: float
    score: float
    instrument: str
    taken_at: datetime


class CourseState(BaseModel):
    """Where the patient stands on the forecast's scale (the scale's own rules)."""

    scale: str
    baseline: float
    latest: float | None
    responded: bool
    remitted: bool
    ever_responded: bool
    lost_response: bool
    response_rule: str
    remission_rule: str


def first_session_at(sessions: Sequence[SessionRecord]) -> datetime | None:
    """Start of the first session (day 0 of the course)."""
    return min((s.started_at for s in sessions), default=None)


def forecast_scale(patient: PatientRecord) -> str:
    """The planner's forecast scale: the first baseline scale of the primary diagnosis."""
    own = condition_entry(str(patient.clinical["diagnoses"][0])).scales
    return next(str(s) for s in patient.clinical["baseline_scores"] if s in own)


def trajectory(
    patient: PatientRecord, sessions: Sequence[SessionRecord], questionnaires: Sequence[QuestionnaireRecord]
) -> list[ScorePoint]:
    """Scores on the forecast's scale from the first session on (earlier ones are baselines)."""
    start = first_session_at(sessions)
    if start is None:
        return []
    name = forecast_scale(patient)
    points = [
        ScorePoint(
            day=(q.taken_at - start).total_seconds() / 86400.0,
            score=q.total,
            instrument=q.instrument,
            taken_at=q.taken_at,
        )
        for q in questionnaires
        if q.instrument == name and q.taken_at >= start
    ]
    return sorted(points, key=lambda p: p.day)


def course_state(patient: PatientRecord, points: Sequence[ScorePoint]) -> CourseState:
    """Response, remission and loss of response from the observed scores."""
    name = forecast_scale(patient)
    s = scale_entry(name)
    baseline = float(patient.clinical["baseline_scores"][name])
    responded = [bool(s.responded(p.score, baseline)) for p in points]  # type: ignore[arg-type]
    latest = points[-1].score if points else None
    now_responded = responded[-1] if responded else False
    return CourseState(
        scale=name,
        baseline=baseline,
        latest=latest,
        responded=now_responded,
        remitted=bool(s.remitted(latest)) if latest is not None else False,  # type: ignore[arg-type]
        ever_responded=any(responded),
        lost_response=any(responded) and not now_responded,
        response_rule=f"a fall of at least {s.response_drop:.0%} from baseline ({s.source})",
        remission_rule=f"{name} <= {s.remission_max:g}",
    )


def alerts(
    patient: PatientRecord,
    sessions: Sequence[SessionRecord],
    vitals: dict[str, list[VitalRecord]],
    questionnaires: Sequence[QuestionnaireRecord],
    on: date,
) -> list[Alert]:
    """Every alert of one patient on a date (newest first)."""
    out: list[Alert] = []

    def add(kind: AlertKind, high: bool, record: str | None, at: datetime, message: str, source: str) -> None:
        severity: Literal["high", "medium"] = "high" if high else "medium"
        out.append(Alert(kind=kind, severity=severity, patient_uid=patient.uid, record_uid=record, at=at,
                         message=message, source=source))  # fmt: skip

    inst = instruments()
    for q in questionnaires:
        meta = inst[q.instrument]
        if meta.suicidal_item is not None and q.items is not None and q.items[meta.suicidal_item - 1] > 0:
            answer = q.items[meta.suicidal_item - 1]
            text = f"{q.instrument} item {meta.suicidal_item} (thoughts of self-harm) answered {answer}"
            add("suicidal_ideation_item", True, q.uid, q.taken_at, text, meta.source)
        if meta.kind == "yes_no" and q.items is not None and any(q.items):
            add("cssrs_positive_screen", True, q.uid, q.taken_at, f"{q.instrument} positive screen",
                f"{meta.source}; {meta.positive_rule}")  # fmt: skip
    sbp_hold, dbp_hold, hold_source = hold_limits()
    for s in sessions:
        for v in vitals.get(s.uid, []):
            sbp, dbp = v.systolic_mmhg, v.diastolic_mmhg
            if (sbp or 0) >= SEVERE_SBP_MMHG or (dbp or 0) >= SEVERE_DBP_MMHG:
                text = f"BP {_bp(sbp, dbp)} during the session (>= {SEVERE_SBP_MMHG:g}/{SEVERE_DBP_MMHG:g})"
                add("bp_severe", True, v.uid, v.taken_at, text, SEVERE_SOURCE)
            elif v.taken_at <= s.started_at and ((sbp or 0) > sbp_hold or (dbp or 0) > dbp_hold):
                text = f"BP {_bp(sbp, dbp)} before dosing, over the hold limits {sbp_hold:g}/{dbp_hold:g}"
                add("bp_over_hold_limits", False, v.uid, v.taken_at, text, hold_source)
        try:
            due = s.started_at + timedelta(days=rems_deadline_days())
        except OverflowError:  # a row dated near year 9999, stored before input was bounded
            continue
        late = datetime.combine(on, datetime.min.time(), UTC) > due
        if s.drug == "esketamine" and not (s.rems or {}).get("submitted_at") and late:
            text = f"REMS Patient Monitoring Form of the {s.started_at.date()} session not submitted"
            add("rems_overdue", False, s.uid, due, text, REMS_DEADLINE_SOURCE)
    points = trajectory(patient, sessions, questionnaires)
    state = course_state(patient, points)
    if state.lost_response and points:
        text = f"{state.scale} {state.latest:g} no longer meets response (baseline {state.baseline:g})"
        add("loss_of_response", False, None, points[-1].taken_at, text, state.response_rule)
    end_of_day = datetime.combine(on, datetime.max.time(), UTC)
    if sessions:
        first = min(s.started_at for s in sessions)
        phase = "induction" if (end_of_day - first).days <= INDUCTION_DAYS else "maintenance"
        gap_days, gap_source = max_gap_days(phase)
        active = (
            (end_of_day - max(s.started_at for s in sessions)).days <= 2 * gap_days if phase == "maintenance" else True
        )
        reference = max([first, *(q.taken_at for q in questionnaires)])
        if active and (end_of_day - reference).total_seconds() / 86400.0 > gap_days:
            text = f"no questionnaire for more than {gap_days:g} days ({phase}: the measurement-based care rhythm)"
            add("missed_questionnaire", False, None, reference + timedelta(days=gap_days), text, gap_source)
    return sorted(out, key=lambda a: a.at, reverse=True)


def _bp(sbp: float | None, dbp: float | None) -> str:
    return f"{'-' if sbp is None else f'{sbp:g}'}/{'-' if dbp is None else f'{dbp:g}'}"
