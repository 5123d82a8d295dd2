"""The clinic pages' form fields as the registry's inputs: the session sheet, the new-patient
form, and numbers typed as text (ASCII decimals, finite), each refusal naming its field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ketasim.errors import InputError

READING_ROWS = 3
"""Rows on the session sheet: before dosing, about 40 min, before discharge (label)."""
READING_BEFORE_MIN = 120
"""How long before the dose a pre-dose reading may be taken (min)."""


def session_from_form(form: dict[str, str], patient_uid: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The session sheet's fields as a session and its readings (blank readings skipped)."""
    minutes_ago = number("started_minutes_ago", form.get("started_minutes_ago", "0") or "0")
    if not 0 <= minutes_ago <= 24 * 60:
        raise InputError.one("started_minutes_ago", f"{minutes_ago:g} is outside 0–1440")
    start = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    data: dict[str, Any] = {
        "patient_uid": patient_uid,
        "started_at": start.isoformat(),
        "drug": form.get("drug", ""),
        "route": form.get("route", ""),
        "dose_mg": number("dose_mg", form.get("dose_mg", "")),
    }
    if form.get("lot_number", "").strip():
        data["lot_number"] = form["lot_number"].strip()
    readings = []
    for i in range(READING_ROWS):
        values = {f: form.get(f"{f}_{i}", "").strip() for f in VITAL_FIELDS}
        if not any(values.values()):
            continue
        at = number(f"minute_{i}", form.get(f"minute_{i}", "") or "0")
        if not -READING_BEFORE_MIN <= at <= 24 * 60:
            raise InputError.one(f"minute_{i}", f"{at:g} is outside -{READING_BEFORE_MIN}–1440 (minutes from the dose)")
        reading: dict[str, Any] = {"taken_at": (start + timedelta(minutes=at)).isoformat()}
        reading.update({f: number(f"{f}_{i}", v) for f, v in values.items() if v})
        readings.append(reading)
    return data, readings


VITAL_FIELDS = ("systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm", "spo2_pct")


def patient_from_form(form: dict[str, list[str]]) -> dict[str, Any]:
    """The new-patient form's fields as the registry's patient (``PatientIn``): the number
    fields parsed here naming their field, the rest checked by the registry and the planner."""

    def one(key: str) -> str:
        return (form.get(key) or [""])[0].strip()

    diagnoses = [d for d in (one("diagnosis"), *form.get("other_diagnoses", [])) if d]
    clinical: dict[str, Any] = {
        "weight_kg": number("weight_kg", one("weight_kg")),
        "height_cm": number("height_cm", one("height_cm")),
        "diagnoses": list(dict.fromkeys(diagnoses)),
        "failed_antidepressant_trials": whole_number(
            "failed_antidepressant_trials", one("failed_antidepressant_trials")
        ),
        "history": form.get("history", []),
        "concomitant_medications": form.get("concomitant_medications", []),
        "pregnant": one("pregnant") == "yes",
        "vitals": {f: number(f, one(f)) for f in VITAL_FIELDS if one(f)},
        "baseline_scores": {one("scale"): number("baseline_score", one("baseline_score"))},
        "weight_basis": one("weight_basis") or "actual",
    }
    if one("oral_antidepressant"):
        clinical["oral_antidepressant"] = one("oral_antidepressant")
    if one("treatment"):
        drug, _, route = one("treatment").partition(" ")
        clinical["treatment"] = {"drug": drug, "route": route}
    identity = {key: one(key) for key in ("mrn", "given_name", "family_name", "birth_date", "sex")}
    return {**identity, "consent_off_label": one("consent_off_label") == "yes", "clinical": clinical}


def whole_number(field: str, text: str) -> int:
    if not re.fullmatch(r"-?[0-9]{1,9}", text.strip()):  # ASCII digits only: '²' and '٣' are digits to str.isdigit
        raise InputError.one(field, f"{text!r} is not a whole number")
    return int(text)


NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
"""A decimal number in ASCII digits (``float`` also reads '٧٠', '７０' and '1_0')."""


def number(field: str, text: str) -> float:
    if not NUMBER.fullmatch(text.strip()):
        raise InputError.one(field, f"{text!r} is not a number")
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError.one(field, f"{text!r} is not a finite number")
    return value


def problems_text(err: InputError) -> str:
    return "; ".join(f"{field}: {message}" for field, message in err.problems)
