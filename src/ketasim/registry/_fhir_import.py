"""FHIR import: a Bundle of the resources ``export_fhir`` writes (sessions as Encounter +
MedicationAdministration, vitals and scores as Observations, item answers as
QuestionnaireResponse) added to the course of the registry's patient with the Bundle's MRN.

The Bundle is validated by ``fhir.resources`` first; every session, reading and score is then
checked as if entered by hand and written in one transaction: all of it, or nothing."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from ketasim.registry._audit import audit
from ketasim.registry._auth import Actor, authorize
from ketasim.registry._db import RecordNotFoundError, RegistryError
from ketasim.registry._exports import LOCAL_CODES, SNOMED_ROUTE
from ketasim.registry._inputs import QuestionnaireIn, SessionIn, VitalIn, instruments, parse
from ketasim.registry._models import PatientRow
from ketasim.registry._registry import Registry, current_all

MAX_RESOURCES = 5000
VITAL_LOINC = {"8480-6": "systolic_mmhg", "8462-4": "diastolic_mmhg", "8867-4": "heart_rate_bpm",
               "59408-5": "spo2_pct", "9279-1": "respiratory_rate_per_min"}  # fmt: skip
ROUTE_OF = {code: route for route, code in SNOMED_ROUTE.items()}


class ImportSummary(BaseModel):
    """What an import added."""

    patient_uid: str
    sessions: int
    readings: int
    questionnaires: int


def _codes(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.get("system", ""), c.get("code", "")) for c in resource.get("code", {}).get("coding", [])]


def _ref(resource: dict[str, Any], field: str) -> str | None:
    ref = resource.get(field, {}).get("reference")
    return ref.split("/", 1)[1] if isinstance(ref, str) and "/" in ref else None


def _parse_bundle(bundle: Any) -> list[dict[str, Any]]:
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise RegistryError.one("bundle", "a FHIR Bundle (resourceType Bundle) is expected")
    entries = bundle.get("entry") or []
    if len(entries) > MAX_RESOURCES:
        raise RegistryError.one("bundle.entry", f"{len(entries)} resources; at most {MAX_RESOURCES}")
    for i, entry in enumerate(entries):
        kind = entry.get("resource", {}).get("resourceType") if isinstance(entry, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            try:
                get_fhir_model_class(str(kind))
            except ValueError:
                raise RegistryError.one(
                    f"bundle.entry[{i}].resource.resourceType", f"{kind!r} is not a FHIR R4B resource type"
                ) from None
    try:
        Bundle.model_validate(bundle)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise RegistryError.one(f"bundle.{where}", str(first.get("msg", "invalid"))) from None
    return [e["resource"] for e in entries if isinstance(e, dict) and "resource" in e]


def import_fhir(registry: Registry, actor: Actor, bundle: Any) -> ImportSummary:
    """Add a Bundle's sessions, readings and scores to the patient with its MRN (module doc)."""
    resources = _parse_bundle(bundle)
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in resources:
        by_type[r["resourceType"]].append(r)
    if len(by_type["Patient"]) != 1:
        raise RegistryError.one("bundle", f"exactly one Patient is expected; found {len(by_type['Patient'])}")
    identifiers = by_type["Patient"][0].get("identifier") or []
    mrn = next((i.get("value") for i in identifiers if i.get("value")), None)
    if not mrn:
        raise RegistryError.one("Patient.identifier", "the patient's MRN is needed to find the registry's patient")
    with registry._unit(actor, "fhir_import") as db:
        authorize(actor, "write_clinical")
        found = current_all(db, PatientRow, PatientRow.mrn == mrn, PatientRow.site == actor.site)
        if not found:
            raise RecordNotFoundError.one("Patient.identifier", "no patient of this registry you may see has this MRN")
        patient = found[0].uid
        readings = _readings_by_encounter(by_type["Observation"])
        n_readings = sum(len(v) for v in readings.values())
        sessions = 0
        for med in by_type["MedicationAdministration"]:
            encounter = _ref(med, "context")
            registry._insert_session(db, actor, _session(med, patient), readings.pop(encounter or "", []))
            sessions += 1
        if readings:
            raise RegistryError.one("Observation.encounter", "a reading refers to no session of the Bundle")
        scores = _questionnaires(by_type["Observation"], by_type["QuestionnaireResponse"], patient)
        for q in scores:
            registry._insert_questionnaire(db, actor, q)
        audit(db, actor, "import", "fhir_bundle", None, patient_uid=patient)
        return ImportSummary(patient_uid=patient, sessions=sessions, readings=n_readings, questionnaires=len(scores))


def _session(med: dict[str, Any], patient: str) -> SessionIn:
    dosage = med.get("dosage", {})
    route_codes = [c.get("code") for c in dosage.get("route", {}).get("coding", [])]
    route = next((ROUTE_OF[c] for c in route_codes if c in ROUTE_OF), dosage.get("route", {}).get("text"))
    period = med.get("effectivePeriod", {})
    data: dict[str, Any] = {
        "patient_uid": patient,
        "started_at": period.get("start"),
        "drug": str(med.get("medicationCodeableConcept", {}).get("text", "")).replace(" ", "_"),
        "route": route,
        "dose_mg": dosage.get("dose", {}).get("value"),
    }
    if "rateQuantity" in dosage:
        data["infusion_rate_mg_per_h"] = dosage["rateQuantity"].get("value")
    if period.get("end") and period.get("start") and route == "iv":
        minutes = (datetime.fromisoformat(period["end"]) - datetime.fromisoformat(period["start"])).total_seconds() / 60
        if minutes > 0:
            data["infusion_end_min"] = minutes
    result: SessionIn = parse(SessionIn, data, f"MedicationAdministration/{med.get('id', '?')}")
    return result


def _readings_by_encounter(observations: list[dict[str, Any]]) -> dict[str, list[VitalIn]]:
    """Vital-sign Observations grouped by Encounter and time into readings."""
    grouped: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    for o in observations:
        encounter = _ref(o, "encounter")
        if encounter is None:
            continue
        values = [(_codes(c), c.get("valueQuantity", {}).get("value")) for c in o.get("component", [])]
        values.append((_codes(o), o.get("valueQuantity", {}).get("value")))
        for codes, value in values:
            field = next((VITAL_LOINC[c] for s, c in codes if s == "http://loinc.org" and c in VITAL_LOINC), None)
            if field is not None and value is not None:
                grouped[(encounter, o.get("effectiveDateTime", ""))][field] = value
    out: dict[str, list[VitalIn]] = defaultdict(list)
    for (encounter, at), fields in sorted(grouped.items()):
        out[encounter].append(parse(VitalIn, {"taken_at": at, **fields}, f"Observation (reading at {at})"))
    return dict(out)


def _questionnaires(
    observations: list[dict[str, Any]], responses: list[dict[str, Any]], patient: str
) -> list[QuestionnaireIn]:
    """Survey Observations as questionnaires, their items from the QuestionnaireResponse of the
    same instrument and time."""
    inst = instruments()
    by_loinc = {m.loinc_total: name for name, m in inst.items() if m.loinc_total}
    by_panel = {f"http://loinc.org/q/{m.loinc_panel}": name for name, m in inst.items() if m.loinc_panel}
    items: dict[tuple[str, str], list[Any]] = {}
    for r in responses:
        name = by_panel.get(r.get("questionnaire", ""))
        if name is not None:
            answers = [i.get("answer", [{}])[0].get("valueInteger") for i in r.get("item", [])]
            items[(name, r.get("authored", ""))] = answers
    out = []
    for o in observations:
        if _ref(o, "encounter") is not None:
            continue
        codes = _codes(o)
        name = next((by_loinc[c] for s, c in codes if s == "http://loinc.org" and c in by_loinc), None)
        name = name or next((c for s, c in codes if s == LOCAL_CODES and c in inst), None)
        if name is None:
            continue
        at = o.get("effectiveDateTime", "")
        data: dict[str, Any] = {"patient_uid": patient, "instrument": name, "taken_at": at}
        if inst[name].kind == "total":
            data["total"] = o.get("valueQuantity", {}).get("value")
        else:
            data["items"] = items.get((name, at))
            data["total"] = o.get("valueQuantity", {}).get("value")
        out.append(parse(QuestionnaireIn, data, f"Observation/{o.get('id', '?')}"))
    return out
