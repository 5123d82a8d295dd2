"""One call for a whole plan: :func:`plan_patient` → the typed :class:`Plan` (``ketasim plan``)."""

from __future__ import annotations

import datetime as _dt

from pydantic import BaseModel

from ketasim import DISCLAIMER
from ketasim.clinic.dosing import RegimenReport, plan_regimen
from ketasim.clinic.forecast import (
    COPIES,
    Course,
    Forecast,
    escalation_multipliers,
    forecast,
    likelihood_weights,
    simulate_copies,
)
from ketasim.clinic.forecast import copies as patient_copies
from ketasim.clinic.maintenance import Maintenance, choose_maintenance, no_maintenance
from ketasim.clinic.measurement import MeasurementStep, measurement_plan
from ketasim.clinic.monitoring import (
    MonitoringAction,
    RemsForm,
    SessionPrediction,
    actions,
    rems_forms,
    session_predictions,
)
from ketasim.clinic.patient import PatientFile
from ketasim.clinic.review import CourseReview, course_review
from ketasim.clinic.rules import Decision, Finding, RuleSet, decision, screen
from ketasim.errors import InputError, PlannerError
from ketasim.params import ParameterSet, default_parameters
from ketasim.schema import as_model

MAX_COPIES = 5000


class Plan(BaseModel):
    """The plan of one patient: findings and decision, the course review, method and sessions
    (maintenance from the forecast), monitoring with the predicted peaks and BP-hold
    probabilities, the questionnaires to collect, REMS forms (esketamine) and the forecast."""

    patient: str
    planned_on: str
    eligible: bool
    decision: Decision
    findings: list[Finding]
    course_review: CourseReview | None
    regimen: RegimenReport
    maintenance: Maintenance | None
    monitoring: list[MonitoringAction]
    session_predictions: list[SessionPrediction]
    measurement: list[MeasurementStep]
    rems_monitoring_forms: list[RemsForm]
    forecast: Forecast | None
    disclaimer: str = DISCLAIMER


def plan_patient(
    patient: PatientFile,
    rules: RuleSet | None = None,
    copies: int = COPIES,
    params: ParameterSet | None = None,
    *,
    on: _dt.date | None = None,
) -> Plan:
    """Screen, choose the method and dose, review the course so far, choose the maintenance
    interval from the forecast, plan monitoring and forecast the course.

    A ``not_eligible`` patient still gets the findings, and nothing is planned for them.  When
    the course review says ``stop`` no maintenance is planned and the forecast is of induction
    only.  ``copies`` virtual copies of the patient carry the forecast (simulated in chunks,
    so the memory a plan needs does not grow with them).
    """
    patient = as_model(PatientFile, patient, PlannerError, "patient")
    if isinstance(copies, bool) or not isinstance(copies, int) or not 10 <= copies <= MAX_COPIES:
        raise InputError.one("copies", f"{copies!r} is not allowed: a whole number 10–{MAX_COPIES}")
    p = params or default_parameters()
    planned_on = (on or _dt.date.today()).isoformat()
    regimen = plan_regimen(patient, rules)
    findings = screen(patient, regimen.drug, regimen.route, rules)
    verdict = decision(findings)
    if verdict == "not_eligible":
        report = RegimenReport(drug=regimen.drug, route=regimen.route, sessions=[], reasons=list(regimen.reasons))
        return Plan(
            patient=patient.name,
            planned_on=planned_on,
            eligible=False,
            decision=verdict,
            findings=findings,
            course_review=None,
            regimen=report,
            maintenance=None,
            monitoring=[],
            session_predictions=[],
            measurement=[],
            rems_monitoring_forms=[],
            forecast=None,
        )
    review = course_review(patient, regimen)
    pop = patient_copies(patient, copies)
    multipliers = escalation_multipliers(patient, regimen, pop, p)
    induction = regimen.with_interval(None)
    induction_sim = simulate_copies(patient, induction, pop, p, multipliers)
    if review.status == "stop":
        chosen, plan_sim = induction, induction_sim
        maintenance = no_maintenance(patient, regimen, "The course review says stop: no maintenance is planned.")
    elif not regimen.intervals:
        chosen, plan_sim = induction, induction_sim
        maintenance = no_maintenance(
            patient, regimen, "No published maintenance schedule for this method: the course ends with a review."
        )
    else:
        chosen, plan_sim, maintenance = choose_maintenance(patient, regimen, pop, p, multipliers)
    course = Course(plan_sim, induction_sim, likelihood_weights(patient, plan_sim, p), pop.n)
    predictions = session_predictions(patient, chosen, course, p)
    return Plan(
        patient=patient.name,
        planned_on=planned_on,
        eligible=verdict == "eligible",
        decision=verdict,
        findings=findings,
        course_review=review,
        regimen=chosen.report(),
        maintenance=maintenance,
        monitoring=actions(patient, chosen, predictions),
        session_predictions=predictions,
        measurement=measurement_plan(patient, chosen),
        rems_monitoring_forms=rems_forms(patient, chosen, predictions),
        forecast=forecast(patient, chosen, course),
    )
