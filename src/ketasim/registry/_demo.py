"""A demo clinic: three accounts and one synthetic patient three weeks into an esketamine
course, so a newcomer sees a live chart, alerts and a REMS form (``ketasim clinic demo``).
Synthetic data only; the demo password is printed and is for a demo database only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ketasim.registry._course import approve_plan, save_plan
from ketasim.registry._db import RegistryError
from ketasim.registry._registry import Registry

DEMO_PASSWORD = "demo-password-not-for-real-use"
DEMO_USERS = (("demo-admin", "Demo Admin", "admin"), ("demo-doctor", "Demo Doctor", "prescriber"),
              ("demo-nurse", "Demo Nurse", "nurse"), ("demo-viewer", "Demo Viewer", "viewer"))  # fmt: skip
SESSION_DAYS = (-21, -18, -14, -11, -7, -4)
MADRS_AFTER = (27.0, 24.0, 19.0, 17.0, 14.0, 15.0)
"""MADRS the day after each session (synthetic: a patient moving towards response)."""


def create_demo(registry: Registry) -> dict[str, Any]:
    """Fill an empty registry with the demo clinic; returns the accounts and the patient id."""
    if registry.has_accounts():
        raise RegistryError.one("db", "the demo needs an empty registry (this one has accounts)")
    admin = registry.create_user(None, *DEMO_USERS[0][:2], "admin", DEMO_PASSWORD)
    for username, name, role in DEMO_USERS[1:]:
        registry.create_user(admin, username, name, role, DEMO_PASSWORD)
    doctor, nurse = registry.actor("demo-doctor"), registry.actor("demo-nurse")
    patient = registry.add_patient(
        doctor,
        {
            "mrn": "DEMO-0001",
            "given_name": "Alex",
            "family_name": "Sample",
            "birth_date": "1979-04-12",
            "sex": "female",
            "consent_off_label": False,
            "clinical": {
                "weight_kg": 72,
                "height_cm": 168,
                "diagnoses": ["trd"],
                "failed_antidepressant_trials": 3,
                "vitals": {"systolic_mmhg": 122, "diastolic_mmhg": 78, "heart_rate_bpm": 72, "spo2_pct": 98},
                "baseline_scores": {"MADRS": 32},
                "treatment": {"drug": "esketamine", "route": "intranasal"},
                "oral_antidepressant": "ssri",
            },
        },
    ).uid
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    rems = {"benzodiazepines": False, "non_benzodiazepine_hypnotics": False, "psychostimulants": False,
            "mao_inhibitors": False, "opioids": False, "monitoring_provider": "Demo Doctor",
            "provider_phone": "555-0100", "site_name": "Demo clinic", "site_address": "1 Example Street"}  # fmt: skip
    for k, day in enumerate(SESSION_DAYS):
        start = today + timedelta(days=day)
        submitted = {"submitted_at": (start + timedelta(days=1)).isoformat()} if k < len(SESSION_DAYS) - 1 else {}
        session = registry.record_session(
            nurse,
            {"patient_uid": patient, "started_at": start.isoformat(), "drug": "esketamine", "route": "intranasal",
             "dose_mg": 56 if k < 2 else 84, "lot_number": f"DEMO-LOT-{k + 1}",
             "device_times_min": [0, 5] if k < 2 else [0, 5, 10], "cadss_max": 14 - k, "moaas_min": 5,
             "rems": {**rems, **submitted} if k == 0 else submitted or None},
        )  # fmt: skip
        registry.add_vitals(
            nurse,
            session.uid,
            [{"taken_at": (start + timedelta(minutes=m)).isoformat(), "systolic_mmhg": s, "diastolic_mmhg": d,
              "heart_rate_bpm": 74, "spo2_pct": 98}
             for m, s, d in ((-5, 124, 78), (40, 146 + 2 * k, 88), (120, 126, 80))],
        )  # fmt: skip
        registry.record_questionnaire(
            nurse,
            {"patient_uid": patient, "instrument": "MADRS", "taken_at": (start + timedelta(days=1)).isoformat(),
             "total": MADRS_AFTER[k]},
        )  # fmt: skip
    registry.record_questionnaire(
        nurse,
        {"patient_uid": patient, "instrument": "PHQ-9", "taken_at": (today - timedelta(days=2)).isoformat(),
         "items": [1, 1, 2, 1, 1, 1, 1, 0, 1]},
    )  # fmt: skip
    save_plan(registry, doctor, patient)
    approve_plan(registry, doctor, patient)
    return {"password": DEMO_PASSWORD, "users": [u for u, _, _ in DEMO_USERS], "patient": patient}
