"""One call for a whole plan: :func:`plan_patient` → the typed :class:`Plan` (``ketasim plan``)."""

from __future__ import annotations

from pydantic import BaseModel

from ketasim import DISCLAIMER
from ketasim.clinic.dosing import RegimenReport, plan_regimen
from ketasim.clinic.forecast import COPIES, Forecast, forecast, simulate_course_copies
from ketasim.clinic.monitoring import (
    MonitoringAction,
    RemsForm,
    SessionPrediction,
    actions,
    rems_forms,
    session_predictions,
)
from ketasim.clinic.patient import PatientFile
from ketasim.clinic.rules import Decision, Finding, RuleSet, decision, screen
from ketasim.errors import InputError
from ketasim.params import ParameterSet, default_parameters

MAX_COPIES = 5000


class Plan(BaseModel):
    """The plan of one patient: findings and decision, method and sessions, monitoring with
    the predicted peaks, REMS forms (esketamine) and the course forecast."""

    patient: str
    eligible: bool
    decision: Decision
    findings: list[Finding]
    regimen: RegimenReport
    monitoring: list[MonitoringAction]
    session_predictions: list[SessionPrediction]
    rems_monitoring_forms: list[RemsForm]
    forecast: Forecast | None
    disclaimer: str = DISCLAIMER


def plan_patient(
    patient: PatientFile,
    rules: RuleSet | None = None,
    copies: int = COPIES,
    params: ParameterSet | None = None,
) -> Plan:
    """Screen, choose the method and dose, plan monitoring and forecast the course.

    A ``not_eligible`` patient still gets the findings, and the regimen the planner would
    otherwise propose is left out (no sessions, no forecast): nothing is planned for them.
    ``copies`` virtual copies of the patient carry the forecast (simulated in chunks, so the
    memory a plan needs does not grow with them).
    """
    if not 10 <= copies <= MAX_COPIES:
        raise InputError.one("copies", f"{copies} is not allowed: 10–{MAX_COPIES}")
    regimen = plan_regimen(patient, rules)
    findings = screen(patient, regimen.drug, regimen.route, rules)
    verdict = decision(findings)
    if verdict == "not_eligible":
        return Plan(
            patient=patient.name,
            eligible=False,
            decision=verdict,
            findings=findings,
            regimen=RegimenReport(drug=regimen.drug, route=regimen.route, sessions=[], reasons=list(regimen.reasons)),
            monitoring=[],
            session_predictions=[],
            rems_monitoring_forms=[],
            forecast=None,
        )
    course = simulate_course_copies(patient, regimen, params or default_parameters(), copies)
    predictions = session_predictions(patient, regimen, course)
    return Plan(
        patient=patient.name,
        eligible=verdict == "eligible",
        decision=verdict,
        findings=findings,
        regimen=regimen.report(),
        monitoring=actions(patient, regimen, predictions),
        session_predictions=predictions,
        rems_monitoring_forms=rems_forms(patient, regimen, predictions),
        forecast=forecast(patient, regimen, course),
    )
