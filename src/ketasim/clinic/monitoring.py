"""Session monitoring plan: the label's and consensus checks, with this patient's predicted
dissociation and blood-pressure peaks (median and 10–90% band over the patient's virtual
copies), the earliest discharge time and, for esketamine, the REMS monitoring form pre-filled.

Check cadences are data (``data/clinic/monitoring.yaml``).  Earliest discharge is when the
predicted CADSS (90th percentile) is at most 4 — the Spravato programme's definition of
dissociation is CADSS > 4 — and systolic pressure (90th percentile) is back within 10% of
the pre-dose value (**assumed**: the clinics' "back to baseline"), and never before the
minimum observation (2 h after the first device for esketamine; 30 min after the end of an
infusion, **assumed**).  A clinician signs the patient out in every case.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.clinic._data import value
from ketasim.clinic.dosing import Regimen
from ketasim.clinic.forecast import Course, weighted_quantiles
from ketasim.clinic.patient import MEDICATION_CLASSES, PatientFile

FloatArray = NDArray[np.float64]


def _c(*path: str) -> Any:
    return value("monitoring", *path)


def _band(values: FloatArray, w: FloatArray) -> dict[str, float]:
    q = weighted_quantiles(values[:, None], w, (0.1, 0.5, 0.9))[:, 0]
    return {"median": round(float(q[1]), 2), "p10": round(float(q[0]), 2), "p90": round(float(q[2]), 2)}


def session_predictions(patient: PatientFile, regimen: Regimen, course: Course) -> list[dict[str, Any]]:
    """Per session: predicted CADSS and SBP peaks (band), their times, earliest discharge."""
    sim, w = course.plan, course.weights
    t = sim.result.times_h
    out: list[dict[str, Any]] = []
    for i, (s, t_s) in enumerate(zip(regimen.sessions, sim.session_times_h, strict=True)):
        window = (t >= t_s - 1e-9) & (t <= t_s + 4.0 + 1e-9)
        minutes = (t[window] - t_s) * 60.0
        cadss = sim.result.adverse["cadss"][:, window]
        sbp = sim.result.adverse["sbp_mmhg"][:, window]
        q_cadss = weighted_quantiles(cadss, w, (0.9,))[0]
        q_sbp = weighted_quantiles(sbp, w, (0.9,))[0]
        minimum = (
            _c("esketamine", "observation_min")
            if regimen.route == "intranasal"
            else s.duration_min + _c("iv", "observation_after_infusion_min")
        )
        settled = (q_cadss <= _c("discharge_cadss_max")) & (
            q_sbp <= patient.vitals.systolic_mmhg * (1 + _c("discharge_sbp_rise_fraction"))
        )
        after = minutes >= minimum
        ok = np.flatnonzero(after & np.logical_and.accumulate(settled[::-1])[::-1])
        discharge = float(minutes[ok[0]]) if ok.size else float(minutes[-1])
        out.append(
            {
                "session": i + 1,
                "day": s.day,
                "dose_mg": round(s.dose_mg, 2),
                "cadss_peak": _band(cadss.max(axis=1), w),
                "cadss_peak_t_min": round(float(np.median(minutes[np.argmax(cadss, axis=1)])), 1),
                "sbp_peak_mmhg": _band(sbp.max(axis=1), w),
                "sbp_peak_t_min": round(float(np.median(minutes[np.argmax(sbp, axis=1)])), 1),
                "earliest_discharge_min": round(discharge, 1),
            }
        )
    return out


def actions(patient: PatientFile, regimen: Regimen, predictions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The monitoring rows ``{"session", "t_min", "action"}`` of every session."""
    rows: list[dict[str, Any]] = []
    sbp_hold, dbp_hold = _c("bp_hold_systolic_mmhg"), _c("bp_hold_diastolic_mmhg")
    for pred, s in zip(predictions, regimen.sessions, strict=True):
        i = pred["session"]

        def add(t: float, text: str, i: int = i) -> None:
            rows.append({"session": i, "t_min": round(float(t), 1), "action": text})

        add(
            -15,
            f"pre-dose: BP, heart rate, SpO2; hold and review risk–benefit if BP > {sbp_hold:g}/{dbp_hold:g} mmHg",
        )
        if regimen.route == "intranasal":
            add(-15, "pre-session checklist: no food for 2 h, no liquids for 30 min, ride home arranged")
            devices = round(s.dose_mg / 28.0)
            for d in range(devices):
                add(5 * d, f"device {d + 1} of {devices} (28 mg, 2 sprays), self-administered under observation")
            add(0, "pulse oximetry throughout the observation")
            for t_bp in _c("esketamine", "bp_checks_min"):
                add(t_bp, "BP check (about 40 min after dosing, then until stable)")
        else:
            every = _c("iv", "bp_every_min_during")
            for t_bp in np.arange(0.0, s.duration_min + 1e-9, every):
                add(t_bp, f"BP, heart rate, SpO2 (every {every:g} min during the infusion)")
            after = _c("iv", "bp_every_min_after")
            for t_bp in np.arange(s.duration_min + after, pred["earliest_discharge_min"] + 1e-9, after):
                add(t_bp, f"BP, heart rate (every {after:g} min after the infusion)")
        add(
            pred["cadss_peak_t_min"],
            f"predicted dissociation peak: CADSS {pred['cadss_peak']['median']:.1f} "
            f"(10–90%: {pred['cadss_peak']['p10']:.1f}–{pred['cadss_peak']['p90']:.1f})",
        )
        add(
            pred["sbp_peak_t_min"],
            f"predicted systolic BP peak: {pred['sbp_peak_mmhg']['median']:.0f} mmHg "
            f"(10–90%: {pred['sbp_peak_mmhg']['p10']:.0f}–{pred['sbp_peak_mmhg']['p90']:.0f})",
        )
        add(
            pred["earliest_discharge_min"],
            "earliest discharge (predicted), after a clinician confirms the patient is stable; "
            "no driving or machinery until the next day after restful sleep",
        )
    return sorted(rows, key=lambda r: (r["session"], r["t_min"]))


def rems_forms(patient: PatientFile, regimen: Regimen, predictions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For esketamine: the REMS Patient Monitoring Form fields, pre-filled (dossier §2)."""
    if regimen.route != "intranasal":
        return []
    meds = set(patient.concomitant_medications)
    forms = []
    for pred in predictions:
        forms.append(
            {
                "session": pred["session"],
                "patient_name": patient.name,
                "sex": patient.sex,
                "first_treatment": pred["session"] == 1,
                "treatment_day": pred["day"],
                "dose_mg": pred["dose_mg"],
                "devices": round(pred["dose_mg"] / 28.0),
                "lot_number": None,
                "concomitant_medications": {m: m in meds for m in MEDICATION_CLASSES},
                "bp_before_administration": None,
                "bp_at_40_min": None,
                "bp_before_completion": None,
                "planned_monitoring_duration_min": max(
                    pred["earliest_discharge_min"], _c("esketamine", "observation_min")
                ),
                "pulse_oximetry_checked": None,
                "sedation": None,
                "dissociation": None,
                "respiratory_depression": None,
                "submit_within_days": _c("esketamine", "rems_form_deadline_days"),
            }
        )
    return forms
