"""One call for a whole plan: :func:`plan_patient` → the ``ketasim plan`` JSON."""

from __future__ import annotations

from typing import Any

from ketasim import DISCLAIMER
from ketasim.clinic.dosing import plan_regimen
from ketasim.clinic.forecast import COPIES, forecast, simulate_course_copies
from ketasim.clinic.monitoring import actions, rems_forms, session_predictions
from ketasim.clinic.patient import PatientFile
from ketasim.clinic.rules import RuleSet, decision, screen


def plan_patient(patient: PatientFile, rules: RuleSet | None = None, copies: int = COPIES) -> dict[str, Any]:
    """Screen, choose the method and dose, plan monitoring and forecast the course.

    A ``not_eligible`` patient still gets the findings, and the regimen the planner would
    otherwise propose is left out (no sessions, no forecast): nothing is planned for them.
    """
    regimen = plan_regimen(patient, rules)
    findings = screen(patient, regimen.drug, regimen.route, rules)
    verdict = decision(findings)
    doc: dict[str, Any] = {
        "patient": patient.name,
        "eligible": verdict == "eligible",
        "decision": verdict,
        "findings": [f.as_json() for f in findings],
        "disclaimer": DISCLAIMER,
    }
    if verdict == "not_eligible":
        doc["regimen"] = {
            "drug": regimen.drug,
            "route": regimen.route,
            "sessions": [],
            "reasons": list(regimen.reasons),
        }
        doc["monitoring"] = []
        doc["forecast"] = None
        return doc
    course = simulate_course_copies(patient, regimen, copies)
    predictions = session_predictions(patient, regimen, course)
    doc["regimen"] = regimen.as_json()
    doc["monitoring"] = actions(patient, regimen, predictions)
    doc["session_predictions"] = predictions
    doc["rems_monitoring_forms"] = rems_forms(patient, regimen, predictions)
    doc["forecast"] = forecast(patient, regimen, course)
    return doc
