"""Session monitoring plan: the label's and consensus checks, with this patient's predicted
dissociation and blood-pressure peaks (median and 10–90% band over the patient's virtual
copies), the earliest discharge time and, for esketamine, the REMS monitoring form pre-filled.

Check cadences and criteria are data with sources (``data/clinic/monitoring.yaml``).
Earliest discharge is when the predicted CADSS (90th percentile) is at most 4 — the Spravato
programme's definition of dissociation is CADSS > 4 — and systolic pressure (90th
percentile) is back within 20% of the pre-dose value (PADSS, modified Aldrete), and never
before the route's minimum observation (2 h after the first device for esketamine; 1 h after
the end of an infusion).  A clinician signs the patient out in every case.

Every blood-pressure check carries the probability that the reading taken then calls for a
hold: over the hold limits before dosing (label: > 140/90), a severe reading during the
session (≥ 180/110, label Table 6), or not yet back within 20% at the minimum observation —
from the patient's predicted BP distribution (between-patient and between-session spread,
:mod:`ketasim.pd.adverse`) and the cuff's reading error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel
from scipy.special import ndtr

from ketasim.clinic._data import value
from ketasim.clinic.dosing import Regimen
from ketasim.clinic.forecast import Course, weighted_quantiles
from ketasim.clinic.patient import PatientFile
from ketasim.params import ParameterSet
from ketasim.pd.adverse import AdverseParameters, reading_sd
from ketasim.pk import load_model
from ketasim.pk._files import Devices
from ketasim.vocabulary import names

FloatArray = NDArray[np.float64]


class PeakBand(BaseModel):
    """Median and 10–90% band over the patient's virtual copies."""

    median: float
    p10: float
    p90: float


class BpCheck(BaseModel):
    """An in-session blood-pressure check and the probability its reading is severe (≥ 180/110)."""

    t_min: float
    severe_probability: float


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
    minimum_observation_min: float
    predose_hold_probability: float
    """A pre-dose reading over the hold limits (the label's > 140/90)."""
    severe_bp_probability: float
    """At least one reading of 180/110 or more at the session's in-session checks."""
    not_ready_at_minimum_probability: float
    """Still dissociated (CADSS > 4) or SBP more than 20% over pre-dose at the minimum observation."""
    bp_checks: list[BpCheck]


class MonitoringAction(BaseModel):
    """A check at a time of a session (minutes from the start of dosing); a BP check carries
    the predicted probability that its reading calls for a hold."""

    session: int
    t_min: float
    action: str
    hold_probability: float | None = None


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


def minimum_observation_min(route: str, duration_min: float | None) -> float:
    """Minutes from the start of dosing before a patient may leave, by route."""
    if route == "iv":
        return float(duration_min or 0.0) + float(_c("iv", "observation_after_infusion_min"))
    return float(_c(_ROUTE_KEY.get(route, route), "observation_min"))


_ROUTE_KEY = {"intranasal": "esketamine"}


def bp_check_minutes(route: str, duration_min: float | None, until_min: float) -> list[float]:
    """The in-session blood-pressure checks (minutes from the start of dosing)."""
    if route == "iv":
        during = np.arange(0.0, float(duration_min or 0.0) + 1e-9, _c("iv", "bp_every_min_during"))
        after = np.arange(
            float(duration_min or 0.0) + _c("iv", "bp_every_min_after"),
            until_min + 1e-9,
            _c("iv", "bp_every_min_after"),
        )
        return [float(t) for t in (*during, *after)]
    if route == "im":
        return [float(t) for t in np.arange(_c("im", "bp_every_min"), until_min + 1e-9, _c("im", "bp_every_min"))]
    return [float(t) for t in _c(_ROUTE_KEY.get(route, route), "bp_checks_min")]


def _over(values: FloatArray, limit: float | FloatArray, sd: float) -> FloatArray:
    """P(a reading with error SD ``sd`` exceeds ``limit``) for true values ``values``."""
    return np.asarray(ndtr((values - limit) / sd), dtype=np.float64)


def session_predictions(
    patient: PatientFile, regimen: Regimen, course: Course, params: ParameterSet
) -> list[SessionPrediction]:
    """Per session: predicted CADSS and SBP peaks (band), their times, earliest discharge and
    the probabilities of a BP hold."""
    sim, w = course.plan, course.weights
    minutes = sim.window_min
    adverse = AdverseParameters.from_params(params)
    sd_s, sd_d = reading_sd(adverse, "SBP"), reading_sd(adverse, "DBP")
    hold_s, hold_d = _c("bp_hold_systolic_mmhg"), _c("bp_hold_diastolic_mmhg")
    severe_s, severe_d = _c("bp_severe_systolic_mmhg"), _c("bp_severe_diastolic_mmhg")
    rise = 1 + _c("discharge_sbp_rise_fraction")
    out: list[SessionPrediction] = []
    for i, s in enumerate(regimen.sessions):
        cadss, sbp, dbp = sim.cadss[:, i, :], sim.sbp_mmhg[:, i, :], sim.dbp_mmhg[:, i, :]
        q_cadss = weighted_quantiles(cadss, w, (0.9,))[0]
        q_sbp = weighted_quantiles(sbp, w, (0.9,))[0]
        minimum = minimum_observation_min(regimen.route, s.duration_min)
        pre = patient.vitals.systolic_mmhg
        settled = (q_cadss <= _c("discharge_cadss_max")) & (q_sbp <= pre * rise)
        after = minutes >= minimum
        ok = np.flatnonzero(after & np.logical_and.accumulate(settled[::-1])[::-1])
        discharge = float(minutes[ok[0]]) if ok.size else float(minutes[-1])
        check_min = [t for t in bp_check_minutes(regimen.route, s.duration_min, discharge) if t <= minutes[-1] + 1e-9]
        at = [int(np.argmin(np.abs(minutes - t))) for t in check_min]
        # (copies, checks)
        not_severe = (1 - _over(sbp[:, at], severe_s, sd_s)) * (1 - _over(dbp[:, at], severe_d, sd_d))
        at_min = int(np.searchsorted(minutes, minimum - 1e-9))
        at_min = min(at_min, minutes.size - 1)
        ready = (1 - _over(sbp[:, at_min], pre * rise, sd_s)) * (cadss[:, at_min] <= _c("discharge_cadss_max"))
        predose = 1 - (1 - _over(sbp[:, 0], hold_s, sd_s)) * (1 - _over(dbp[:, 0], hold_d, sd_d))
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
                minimum_observation_min=round(minimum, 1),
                predose_hold_probability=_p(predose, w),
                severe_bp_probability=_p(1 - np.prod(not_severe, axis=1), w),
                not_ready_at_minimum_probability=_p(1 - ready, w),
                bp_checks=[
                    BpCheck(t_min=t, severe_probability=_p(1 - not_severe[:, j], w)) for j, t in enumerate(check_min)
                ],
            )
        )
    return out


def _p(x: FloatArray, w: FloatArray) -> float:
    return round(float(np.sum(w * x) / np.sum(w)), 4)


def actions(patient: PatientFile, regimen: Regimen, predictions: list[SessionPrediction]) -> list[MonitoringAction]:
    """The monitoring rows of every session; BP checks with their hold probabilities."""
    rows: list[MonitoringAction] = []
    sbp_hold, dbp_hold = _c("bp_hold_systolic_mmhg"), _c("bp_hold_diastolic_mmhg")
    severe = f"{_c('bp_severe_systolic_mmhg'):g}/{_c('bp_severe_diastolic_mmhg'):g}"
    for pred, s in zip(predictions, regimen.sessions, strict=True):
        i = pred.session

        def add(t: float, text: str, p: float | None = None, i: int = i) -> None:
            rows.append(MonitoringAction(session=i, t_min=round(float(t), 1), action=text, hold_probability=p))

        add(
            -15,
            "Pre-dose: BP, heart rate, SpO2; hold and review risk and benefit if BP is over "
            f"{sbp_hold:g}/{dbp_hold:g} mmHg.",
            pred.predose_hold_probability,
        )
        checks = [c.t_min for c in pred.bp_checks]
        if regimen.route == "intranasal":
            add(-15, "Pre-session checklist: no food for 2 h, no liquids for 30 min, a ride home arranged.")
            device = _devices()
            devices = round(s.dose_mg / device.device_mg)
            for d in range(devices):
                add(
                    device.interval_min * d,
                    f"Device {d + 1} of {devices} ({device.device_mg:g} mg, 2 sprays), self-administered under "
                    "observation.",
                )
            add(0, "Pulse oximetry throughout the observation.")
        elif regimen.route == "iv":
            add(0, f"Start the infusion ({s.dose_mg:.1f} mg over {s.duration_min:g} min).")
        else:
            add(0, f"Give the {regimen.route} dose ({s.dose_mg:.1f} mg), off-label; pulse oximetry available.")
        for check in pred.bp_checks:
            t_bp = check.t_min
            if regimen.route == "intranasal" and t_bp == checks[0]:
                text = "BP check about 40 min after dosing (label)"
            elif t_bp == checks[-1] and regimen.route != "iv":
                text = (
                    "BP before discharge (REMS form: before completion)"
                    if regimen.route == "intranasal"
                    else "BP before discharge"
                )
            elif regimen.route == "iv" and t_bp <= (s.duration_min or 0):
                text = f"BP, heart rate, SpO2 (every {_c('iv', 'bp_every_min_during'):g} min during the infusion)"
            else:
                text = "BP, heart rate (after dosing, until stable)"
            add(
                t_bp,
                f"{text}; hold or stop and review if {severe} mmHg or more.",
                check.severe_probability,
            )
        add(
            pred.cadss_peak_t_min,
            f"Predicted dissociation peak: CADSS {pred.cadss_peak.median:.1f} "
            f"(10–90%: {pred.cadss_peak.p10:.1f}–{pred.cadss_peak.p90:.1f}).",
        )
        add(
            pred.sbp_peak_t_min,
            f"Predicted systolic BP peak: {pred.sbp_peak_mmhg.median:.0f} mmHg "
            f"(10–90%: {pred.sbp_peak_mmhg.p10:.0f}–{pred.sbp_peak_mmhg.p90:.0f}).",
        )
        add(
            pred.minimum_observation_min,
            "Minimum observation reached; discharge when CADSS is 4 or less and systolic BP is within 20% of "
            "pre-dose (PADSS).",
            pred.not_ready_at_minimum_probability,
        )
        add(
            pred.earliest_discharge_min,
            "Earliest discharge (predicted), after a clinician confirms the patient is stable; "
            "released to a responsible adult; no driving or machinery until the next day after restful sleep.",
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
