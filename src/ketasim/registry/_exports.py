"""What leaves the registry: the REMS Patient Monitoring Form of an esketamine session
(pre-filled, missing required fields listed, the 7-day deadline tracked; printable HTML) and
a FHIR R4B Bundle of a patient's course (``fhir.resources``)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from ketasim import DISCLAIMER
from ketasim.registry._audit import audit
from ketasim.registry._care import REMS_DEADLINE_SOURCE, rems_deadline_days
from ketasim.registry._db import RegistryError
from ketasim.registry._inputs import instruments
from ketasim.registry._models import DosingSessionRow, QuestionnaireRow, VitalSignRow
from ketasim.registry._registry import Registry, current_all
from ketasim.registry._views import VitalRecord, patient_record, questionnaire_record, session_record, vital_record

CONCOMITANT = ("benzodiazepines", "non_benzodiazepine_hypnotics", "psychostimulants", "mao_inhibitors", "opioids")
CARRIED_OVER = (*CONCOMITANT, "enrolled_in_rems", "monitoring_provider", "provider_phone", "site_name", "site_address")
"""Answers pre-filled from the patient's previous esketamine session when this one has none
(as clinic products do: clinic-registry.md §3); the clinician confirms them."""
REQUIRED = (
    "first_treatment",
    *CONCOMITANT,
    "monitoring_provider",
    "provider_phone",
    "site_name",
    "site_address",
    "lot_number",
    "total_monitoring_min",
    "minutes_until_ready_without_2h_rule",
    "vitals_acceptable_before_dosing",
    "vitals_acceptable_at_end",
    "bp_before_dosing",
    "bp_at_40_min",
    "bp_before_end",
    "sedation",
    "dissociation",
    "respiratory_depression",
)
"""Fields the form marks required (11/2021 form and the newer form's walkthrough:
clinic-registry.md §2)."""
LOCAL_CODES = "urn:ketasim:local-codes"
"""Code system of measures with no verified LOINC code (MADRS, HAM-D17, CAPS-5, Y-BOCS, C-SSRS
screen): clinic-registry.md §4 found none."""
CATEGORIES = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODES = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED_ROUTE = {"iv": "47625008", "intranasal": "46713006"}


class RemsForm(BaseModel):
    """The REMS Patient Monitoring Form of one esketamine session."""

    session_uid: str
    patient_name: str
    birth_date: date
    sex: str
    session_date: date
    dose: str
    answers: dict[str, Any]
    prefilled_from_previous: list[str]
    missing_required: list[str]
    deadline: date
    status: Literal["submitted", "pending", "overdue"]
    ready_to_submit: bool
    deadline_source: str = REMS_DEADLINE_SOURCE
    disclaimer: str = DISCLAIMER


def _bp(v: VitalRecord | None) -> str | None:
    if v is None or v.systolic_mmhg is None or v.diastolic_mmhg is None:
        return None
    return f"{v.systolic_mmhg:g}/{v.diastolic_mmhg:g}"


def rems_form(registry: Registry, actor: Any, session_uid: str, on: date | None = None) -> RemsForm:
    """The form's data from the session record, the patient, the session's vitals and the
    previous session's answers; required fields still missing are listed."""
    on = on or datetime.now(UTC).date()
    with registry._unit(actor, "rems_form", session_uid) as db:
        row = registry._session_for(db, actor, session_uid, "read_clinical")
        if row.drug != "esketamine":
            raise RegistryError.one("session_uid", "a REMS monitoring form is for esketamine sessions only")
        patient = patient_record(registry._patient_for(db, actor, row.patient_uid, "read_clinical"))
        session = session_record(row)
        earlier = sorted(
            (
                session_record(s)
                for s in current_all(db, DosingSessionRow, DosingSessionRow.patient_uid == row.patient_uid)
                if s.drug == "esketamine" and s.started_at < row.started_at
            ),
            key=lambda s: s.started_at,
        )
        readings = sorted(
            (vital_record(v) for v in current_all(db, VitalSignRow, VitalSignRow.session_uid == session_uid)),
            key=lambda v: v.taken_at,
        )
        audit(db, actor, "read", "rems_form", session_uid, patient_uid=row.patient_uid)
    start = session.started_at
    answers: dict[str, Any] = dict(session.rems or {})
    prefilled = []
    for key in CARRIED_OVER:
        previous = next(((s.rems or {})[key] for s in reversed(earlier) if (s.rems or {}).get(key) is not None), None)
        if answers.get(key) is None and previous is not None:
            answers[key] = previous
            prefilled.append(key)
    if answers.get("first_treatment") is None:
        answers["first_treatment"] = not earlier
    answers["lot_number"] = session.lot_number
    bp = [v for v in readings if v.systolic_mmhg is not None and v.diastolic_mmhg is not None]
    before = [v for v in bp if v.taken_at <= start]
    near_40 = [v for v in bp if timedelta(minutes=30) <= v.taken_at - start <= timedelta(minutes=50)]
    answers["bp_before_dosing"] = _bp(before[-1] if before else None)
    answers["bp_at_40_min"] = _bp(
        min(near_40, key=lambda v: abs((v.taken_at - start).total_seconds() - 2400)) if near_40 else None
    )
    answers["bp_before_end"] = _bp(bp[-1] if bp and bp[-1].taken_at > start + timedelta(minutes=50) else None)
    answers["pulse_oximetry_checked"] = any(v.spo2_pct is not None for v in readings)
    missing = [k for k in REQUIRED if answers.get(k) is None]
    deadline = (start + timedelta(days=rems_deadline_days())).date()
    submitted = answers.get("submitted_at") is not None
    status: Literal["submitted", "pending", "overdue"] = (
        "submitted" if submitted else ("overdue" if on > deadline else "pending")
    )
    dose = f"{session.dose_mg:g} mg" if session.dose_mg in (56.0, 84.0) else f"other: {session.dose_mg:g} mg"
    return RemsForm(
        session_uid=session_uid,
        patient_name=f"{patient.given_name} {patient.family_name}",
        birth_date=patient.birth_date,
        sex=patient.sex,
        session_date=start.date(),
        dose=dose,
        answers=answers,
        prefilled_from_previous=prefilled,
        missing_required=missing,
        deadline=deadline,
        status=status,
        ready_to_submit=not missing,
    )


def _derived(uid: str, part: str) -> str:
    """A stable UUID for one of several resources made from one record."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ketasim:{uid}:{part}"))


def rems_form_html(form: RemsForm) -> str:
    """The form as a print-ready page (autoescaped template)."""
    from ketasim.reporting.html import render

    return render("rems_form.html.j2", f"REMS Patient Monitoring Form — session of {form.session_date}", form=form)


def export_fhir(registry: Registry, actor: Any, patient_uid: str) -> dict[str, Any]:
    """A FHIR R4B ``collection`` Bundle: the Patient; per session an Encounter and a
    MedicationAdministration; each reading and questionnaire score as Observations (LOINC where
    verified, else a local code); item answers as a QuestionnaireResponse."""
    from fhir.resources.R4B.bundle import Bundle

    with registry._unit(actor, "fhir_export", patient_uid) as db:
        patient = patient_record(registry._patient_for(db, actor, patient_uid, "export"))
        sessions = [
            session_record(s) for s in current_all(db, DosingSessionRow, DosingSessionRow.patient_uid == patient_uid)
        ]
        uids = [s.uid for s in sessions]
        readings = (
            [vital_record(v) for v in current_all(db, VitalSignRow, VitalSignRow.session_uid.in_(uids))] if uids else []
        )
        questionnaires = [
            questionnaire_record(q)
            for q in current_all(db, QuestionnaireRow, QuestionnaireRow.patient_uid == patient_uid)
        ]
        audit(db, actor, "export", "fhir_bundle", patient_uid, patient_uid=patient_uid)
    subject = {"reference": f"Patient/{patient.uid}"}
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": patient.uid,
            "identifier": [{"system": f"urn:ketasim:mrn:{patient.site}", "value": patient.mrn}],
            "name": [{"family": patient.family_name, "given": [patient.given_name]}],
            "gender": patient.sex,
            "birthDate": patient.birth_date.isoformat(),
        }
    ]
    for s in sessions:
        dosage: dict[str, Any] = {
            "route": {"coding": [{"system": "http://snomed.info/sct", "code": SNOMED_ROUTE[s.route]}]}
            if s.route in SNOMED_ROUTE
            else {"text": s.route},
            "dose": {"value": s.dose_mg, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"},
        }
        if s.infusion_rate_mg_per_h is not None:
            dosage["rateQuantity"] = {"value": s.infusion_rate_mg_per_h, "unit": "mg/h"}
        end = s.started_at + timedelta(minutes=s.infusion_end_min or 0.0)
        visit_end = s.started_at + timedelta(minutes=s.ready_for_discharge_min or 0.0)
        encounter = _derived(s.uid, "encounter")
        resources += [
            {
                "resourceType": "Encounter",
                "id": encounter,
                "status": "finished",
                "class": {"system": ACT_CODES, "code": "AMB", "display": "ambulatory"},
                "subject": subject,
                "period": {"start": s.started_at.isoformat(), "end": max(visit_end, s.started_at).isoformat()},
            },
            {
                "resourceType": "MedicationAdministration",
                "id": s.uid,
                "status": "completed",
                "medicationCodeableConcept": {"text": s.drug.replace("_", " ")},
                "subject": subject,
                "context": {"reference": f"Encounter/{encounter}"},
                "effectivePeriod": {"start": s.started_at.isoformat(), "end": max(end, s.started_at).isoformat()},
                "dosage": dosage,
            },
        ]
    vital_codes = {
        "heart_rate_bpm": ("8867-4", "/min"),
        "spo2_pct": ("59408-5", "%"),
        "respiratory_rate_per_min": ("9279-1", "/min"),
    }
    encounter_of = {s.uid: _derived(s.uid, "encounter") for s in sessions}
    for v in readings:
        at_visit = {"encounter": {"reference": f"Encounter/{encounter_of[v.session_uid]}"}}
        vitals_category = [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
                ]
            }
        ]
        if v.systolic_mmhg is not None and v.diastolic_mmhg is not None:
            resources.append(
                {
                    "resourceType": "Observation",
                    "id": _derived(v.uid, "bp"),
                    "status": "final",
                    "category": vitals_category,
                    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
                    "subject": subject,
                    **at_visit,
                    "effectiveDateTime": v.taken_at.isoformat(),
                    "component": [
                        {
                            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                            "valueQuantity": {"value": value, "unit": "mmHg"},
                        }
                        for code, value in (("8480-6", v.systolic_mmhg), ("8462-4", v.diastolic_mmhg))
                    ],
                }
            )
        for field, (code, unit) in vital_codes.items():
            value = getattr(v, field)
            if value is not None:
                resources.append(
                    {
                        "resourceType": "Observation",
                        "id": _derived(v.uid, code),
                        "status": "final",
                        "category": vitals_category,
                        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                        "subject": subject,
                        **at_visit,
                        "effectiveDateTime": v.taken_at.isoformat(),
                        "valueQuantity": {"value": value, "unit": unit},
                    }
                )
    inst = instruments()
    for q in questionnaires:
        meta = inst[q.instrument]
        coding = (
            {"system": "http://loinc.org", "code": meta.loinc_total}
            if meta.loinc_total
            else {"system": LOCAL_CODES, "code": q.instrument}
        )
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": q.uid,
            "status": "final",
            "category": [{"coding": [{"system": CATEGORIES, "code": "survey"}]}],
            "code": {"coding": [coding], "text": q.instrument},
            "subject": subject,
            "effectiveDateTime": q.taken_at.isoformat(),
            "valueQuantity": {"value": q.total},
        }
        if meta.loinc_items and q.items is not None:
            obs["component"] = [
                {"code": {"coding": [{"system": "http://loinc.org", "code": c}]}, "valueInteger": a}
                for c, a in zip(meta.loinc_items, q.items, strict=True)
            ]
        resources.append(obs)
        if q.items is not None:  # the answers item by item
            response: dict[str, Any] = {
                "resourceType": "QuestionnaireResponse",
                "id": _derived(q.uid, "response"),
                "status": "completed",
                "subject": subject,
                "authored": q.taken_at.isoformat(),
                "item": [{"linkId": str(k + 1), "answer": [{"valueInteger": a}]} for k, a in enumerate(q.items)],
            }
            if meta.loinc_panel:
                response["questionnaire"] = f"http://loinc.org/q/{meta.loinc_panel}"
            resources.append(response)
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": datetime.now(UTC).isoformat(),
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
        }
    )
    out: dict[str, Any] = bundle.model_dump(mode="json", exclude_none=True)
    return out
