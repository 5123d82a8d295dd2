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
from pydantic import BaseModel

from ketasim.clinic._data import value
from ketasim.clinic.dosing import Regimen
from ketasim.clinic.forecast import Course, weighted_quantiles
from ketasim.clinic.patient import PatientFile
from ketasim.pk import load_model
from ketasim.pk._files import Devices
from ketasim.vocabulary import names

FloatArray = NDArray[np.float64]


class PeakBand(BaseModel):
    """Median and 10–90% band over the patient's virtual copies."""

    median: float
    p10: float
    p90: float


class SessionPrediction(BaseModel):
    """One session's predicted dissociation and systolic peaks and earliest discharge."""

    session: int
    day: float
    dose_mg: float
    cadss_peak: PeakBand
    cadss_peak_t_min: float
    sbp_peak_mmhg: PeakBand
    sbp_peak_t_min: float
    earliest_discharge_min: float


class MonitoringAction(BaseModel):
    """A check at a time of a session (minutes from the start of dosing)."""

    session: int
    t_min: float
    action: str


class RemsForm(BaseModel):
    """The REMS Patient Monitoring Form fields of one esketamine session, pre-filled where
    the plan knows them (None: to be filled at the session)."""

    session: int
    patient_name: str
    sex: str
    first_treatment: bool
    treatment_day: float
    dose_mg: float
    devices: int
    lot_number: str | None
    concomitant_medications: dict[str, bool]
    bp_before_administration: str | None
    bp_at_40_min: str | None
    bp_before_completion: str | None
    planned_monitoring_duration_min: float
    pulse_oximetry_checked: bool | None
    sedation: bool | None
    dissociation: bool | None
    respiratory_depression: bool | None
    submit_within_days: float


def _devices() -> Devices:
    """The esketamine nasal devices of the PK model (mg per device, minutes apart; Spravato label)."""
    devices = load_model("esketamine").route("intranasal").devices
    assert devices is not None
    return devices


def _c(*path: str) -> Any:
    return value("monitoring", *path)


def _band(values: FloatArray, w: FloatArray) -> PeakBand:
    q = weighted_quantiles(values[:, None], w, (0.1, 0.5, 0.9))[:, 0]
    return PeakBand(median=round(float(q[1]), 2), p10=round(float(q[0]), 2), p90=round(float(q[2]), 2))


def session_predictions(patient: PatientFile, regimen: Regimen, course: Course) -> list[SessionPrediction]:
    """Per session: predicted CADSS and SBP peaks (band), their times, earliest discharge."""
    sim, w = course.plan, course.weights
    minutes = sim.window_min
    out: list[SessionPrediction] = []
    for i, s in enumerate(regimen.sessions):
        cadss = sim.cadss[:, i, :]
        sbp = sim.sbp_mmhg[:, i, :]
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
            SessionPrediction(
                session=i + 1,
                day=s.day,
                dose_mg=round(s.dose_mg, 2),
                cadss_peak=_band(cadss.max(axis=1), w),
                cadss_peak_t_min=round(float(np.median(minutes[np.argmax(cadss, axis=1)])), 1),
                sbp_peak_mmhg=_band(sbp.max(axis=1), w),
                sbp_peak_t_min=round(float(np.median(minutes[np.argmax(sbp, axis=1)])), 1),
                earliest_discharge_min=round(discharge, 1),
            )
        )
    return out


def actions(patient: PatientFile, regimen: Regimen, predictions: list[SessionPrediction]) -> list[MonitoringAction]:
    """The monitoring rows of every session."""
    rows: list[MonitoringAction] = []
    sbp_hold, dbp_hold = _c("bp_hold_systolic_mmhg"), _c("bp_hold_diastolic_mmhg")
    for pred, s in zip(predictions, regimen.sessions, strict=True):
        i = pred.session

        def add(t: float, text: str, i: int = i) -> None:
            rows.append(MonitoringAction(session=i, t_min=round(float(t), 1), action=text))

        add(
            -15,
            f"pre-dose: BP, heart rate, SpO2; hold and review risk–benefit if BP > {sbp_hold:g}/{dbp_hold:g} mmHg",
        )
        if regimen.route == "intranasal":
            add(-15, "pre-session checklist: no food for 2 h, no liquids for 30 min, ride home arranged")
            device = _devices()
            devices = round(s.dose_mg / device.device_mg)
            for d in range(devices):
                add(
                    device.interval_min * d,
                    f"device {d + 1} of {devices} ({device.device_mg:g} mg, 2 sprays), self-administered under "
                    "observation",
                )
            add(0, "pulse oximetry throughout the observation")
            for t_bp in _c("esketamine", "bp_checks_min"):
                add(t_bp, "BP check (about 40 min after dosing, then until stable)")
        else:
            every = _c("iv", "bp_every_min_during")
            for t_bp in np.arange(0.0, s.duration_min + 1e-9, every):
                add(t_bp, f"BP, heart rate, SpO2 (every {every:g} min during the infusion)")
            after = _c("iv", "bp_every_min_after")
            for t_bp in np.arange(s.duration_min + after, pred.earliest_discharge_min + 1e-9, after):
                add(t_bp, f"BP, heart rate (every {after:g} min after the infusion)")
        add(
            pred.cadss_peak_t_min,
            f"predicted dissociation peak: CADSS {pred.cadss_peak.median:.1f} "
            f"(10–90%: {pred.cadss_peak.p10:.1f}–{pred.cadss_peak.p90:.1f})",
        )
        add(
            pred.sbp_peak_t_min,
            f"predicted systolic BP peak: {pred.sbp_peak_mmhg.median:.0f} mmHg "
            f"(10–90%: {pred.sbp_peak_mmhg.p10:.0f}–{pred.sbp_peak_mmhg.p90:.0f})",
        )
        add(
            pred.earliest_discharge_min,
            "earliest discharge (predicted), after a clinician confirms the patient is stable; "
            "no driving or machinery until the next day after restful sleep",
        )
    return sorted(rows, key=lambda r: (r.session, r.t_min))


def rems_forms(patient: PatientFile, regimen: Regimen, predictions: list[SessionPrediction]) -> list[RemsForm]:
    """For esketamine: the REMS Patient Monitoring Form fields, pre-filled (dossier §2)."""
    if regimen.route != "intranasal":
        return []
    meds = set(patient.concomitant_medications)
    return [
        RemsForm(
            session=pred.session,
            patient_name=patient.name,
            sex=patient.sex,
            first_treatment=pred.session == 1,
            treatment_day=pred.day,
            dose_mg=pred.dose_mg,
            devices=round(pred.dose_mg / _devices().device_mg),
            lot_number=None,
            concomitant_medications={m: m in meds for m in names("medication_classes")},
            bp_before_administration=None,
            bp_at_40_min=None,
            bp_before_completion=None,
            planned_monitoring_duration_min=max(pred.earliest_discharge_min, _c("esketamine", "observation_min")),
            pulse_oximetry_checked=None,
            sedation=None,
            dissociation=None,
            respiratory_depression=None,
            submit_within_days=_c("esketamine", "rems_form_deadline_days"),
        )
        for pred in predictions
    ]
