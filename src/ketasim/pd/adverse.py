"""Side effects: dissociation, blood pressure and heart rate, per-session adverse events,
and a cumulative-exposure tracker.

    dX/dt     = (O − X)/τ_acute                                   acute (within-session) adaptation
    D(t)      = max(O − γ·X, 0)                                   dissociative drive; O: NMDA occupancy
    CADSS(t)  = c_max·e^η · D^n/(D50^n + D^n) / (1 + k_tol·T_in(t))  (effect site)
    T(t)      = (1/AUC₁) ∫ O(s)·e^{−(t−s)/τ_tol} ds              exposure-weighted sessions, τ_tol 28 d
    T_in(t)   = T(t_s)·e^{−(t−t_s)/τ_tol}                        carried into the session under way
                                                                   (started at t_s): earlier sessions only
    ΔSBP(t)   = E_SBP·e^(η+κ_s)·O^m/(O50_BP^m + O^m), likewise ΔDBP, ΔHR (peaks with occupancy, ~40 min;
                η per patient, κ_s per session s: between-patient and between-session spread)
    BP_rec    = BP + ε,  ε ~ N(0, σ_read²) per reading                 what a cuff records (σ_read fitted:
                                                                   SBP 9.5, DBP 5.6 mmHg; floor 3.66, NHANES)
    p_AE,s    = 1 − (1 − p₀)·exp(−β·O_peak,s)                     per session, for nausea, vomiting,
                                                                   dizziness, sedation, vertigo, hypoesthesia

AUC₁ is the occupancy AUC of one standard infusion, so T counts "standard sessions".
The acute adaptation X (τ_acute, γ fitted) makes dissociation follow the rise of occupancy
more than its level: it resolves within 20 min of the end of a 40-min infusion while
occupancy is still near its peak (CADSS 18.8 at the peak, 0.8 twenty minutes later, pooled
n = 53, Rosenblat group CNS Summit abstract T39) and peaks before occupancy after a nasal
dose (~40 min, Spravato label); with γ < 1 a steady occupancy keeps a part of it (Bowdle
1998: effects linear in steady-state concentration).
Tolerance T is the slow adaptation that lessens dissociation from one session to the next
(CADSS 20 at week 1, 8.8 at week 14 of weekly SC ketamine, Glue et al. 2018 J Psychopharmacol
32:663; τ_tol 28 d assumed). A session is lessened by the sessions before it (T_in): counting
its own exposure too would weigh the within-session decline twice (X carries it) and tilt
each session's dissociation toward its first minutes.
Nothing here predicts abuse or bladder toxicity: :func:`exposure_flags` raises a flag,
with its source, when dosing is frequent and long (thresholds **assumed**, none published).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from ketasim.params import ParameterSet
from ketasim.pd._filters import Sampler, first_order
from ketasim.vocabulary import names

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class AdverseParameters:
    """Side-effect parameters (fitted, except where a source or an assumption fixes them: the
    per-session event rates, the spread, steepness and acute adaptation of dissociation, the clock of
    its tolerance and the heart-rate rise)."""

    cadss_max: float
    cadss_d50: float
    cadss_hill: float
    tau_acute_h: float
    acute_fraction: float
    cadss_omega: float
    tolerance_gain: float
    tau_tolerance_h: float
    sbp_max: float
    dbp_max: float
    hr_max: float
    bp_o50: float
    bp_hill: float
    sbp_reading_sd: float
    dbp_reading_sd: float
    ae_p0: dict[str, float]
    ae_beta: dict[str, float]

    @classmethod
    def from_params(cls, p: ParameterSet) -> AdverseParameters:
        """The values in a parameter set (an event's rates are fitted, ``ae_<event>_*``, or fixed
        from the label, ``adverse.ae_<event>_*``)."""

        def rate(event: str, kind: str) -> float:
            name = f"ae_{event}_{kind}"
            return p[name] if name in p else p[f"adverse.{name}"]

        return cls(
            cadss_max=p["cadss_max"],
            cadss_d50=p["cadss_drive50"],
            cadss_hill=p["adverse.cadss_hill"],
            tau_acute_h=p["dissociation_acute_tau_min"] / 60.0,
            acute_fraction=p["adverse.dissociation_acute_fraction"],
            cadss_omega=p["adverse.cadss_omega"],
            tolerance_gain=p["dissociation_tolerance_gain"],
            tau_tolerance_h=p["adverse.tau_tolerance_days"] * 24.0,
            sbp_max=p["sbp_rise_max_mmhg"],
            dbp_max=p["dbp_rise_max_mmhg"],
            hr_max=p["adverse.hr_rise_max_bpm"],
            bp_o50=p["bp_occupancy50"],
            bp_hill=p["bp_hill"],
            sbp_reading_sd=p["sbp_reading_sd_mmhg"],
            dbp_reading_sd=p["dbp_reading_sd_mmhg"],
            ae_p0={a: rate(a, "p0") for a in names("adverse_events")},
            ae_beta={a: rate(a, "beta") for a in names("adverse_events")},
        )


def tolerance_index(
    occupancy: FloatArray, grid_h: FloatArray, tau_h: float, auc_one_session: float, *, at: Sampler | None = None
) -> FloatArray:
    """T(t) on the nodes ``grid_h`` (or at the times of ``at`` only): exposure-weighted count
    of recent standard sessions (decays with τ_tol), dT/dt = O/AUC₁ − T/τ_tol."""
    return first_order(occupancy, tau_h, grid_h, at=at) * tau_h / auc_one_session


def carried_tolerance(
    at_start: FloatArray,
    session_starts_h: Sequence[float] | FloatArray,
    times_h: FloatArray,
    tau_h: float,
) -> FloatArray:
    """T_in at ``times_h`` (patients × times): the tolerance ``at_start`` (patients × sessions,
    :func:`tolerance_index` at each session's start) of the session under way (the latest
    started at or before t), decayed since on ``tau_h``; 0 before the first session."""
    starts = np.asarray(session_starts_h, dtype=np.float64)
    out = np.zeros((at_start.shape[0], times_h.size))
    index = np.searchsorted(starts, times_h, side="right") - 1
    begun = index >= 0
    k = index[begun]
    out[:, begun] = at_start[:, k] * np.exp(-(times_h[begun] - starts[k]) / tau_h)
    return out


def dissociative_drive(
    occupancy: FloatArray, grid_h: FloatArray, p: AdverseParameters, *, at: Sampler | None = None
) -> FloatArray:
    """D = max(O − γ·X, 0) on the nodes ``grid_h`` (or at the times of ``at`` only), X the
    acute adaptation, dX/dt = (O − X)/τ_acute."""
    adapted = first_order(occupancy, p.tau_acute_h, grid_h, at=at)
    level = occupancy if at is None else at(occupancy)
    drive: FloatArray = np.maximum(level - p.acute_fraction * adapted, 0.0)
    return drive


def cadss(drive: FloatArray, tolerance: FloatArray, p: AdverseParameters, eta: FloatArray | None = None) -> FloatArray:
    """Dissociation (CADSS total, 0–92) from the dissociative drive (:func:`dissociative_drive`),
    lessened by the tolerance carried into the session (:func:`carried_tolerance`); ``eta``
    (P,) is each patient's log-sensitivity."""
    d = np.maximum(drive, 0.0) ** p.cadss_hill
    sensitivity = 1.0 if eta is None else np.exp(eta)[:, None]
    value = sensitivity * p.cadss_max * d / (p.cadss_d50**p.cadss_hill + d) / (1.0 + p.tolerance_gain * tolerance)
    clipped: FloatArray = np.clip(value, 0.0, 92.0)
    return clipped


def haemodynamics(
    occupancy: FloatArray, p: AdverseParameters, eta_bp: FloatArray | None = None
) -> dict[str, FloatArray]:
    """Rises above baseline: SBP and DBP (mmHg) and heart rate (bpm); ``eta_bp`` is each
    patient's log sensitivity, (P,) or, with session-to-session variability, (P, times)
    (:func:`bp_log_sensitivity`)."""
    o = np.maximum(occupancy, 0.0) ** p.bp_hill
    effect = o / (p.bp_o50**p.bp_hill + o)
    if eta_bp is not None:
        effect = effect * np.exp(eta_bp if eta_bp.ndim == 2 else eta_bp[:, None])
    return {
        "sbp_rise_mmhg": p.sbp_max * effect,
        "dbp_rise_mmhg": p.dbp_max * effect,
        "hr_rise_bpm": p.hr_max * effect,
    }


def bp_log_sensitivity(
    eta_bp: FloatArray | None,
    session_z: FloatArray | None,
    omega_session: float,
    session_starts_h: Sequence[float] | FloatArray,
    times_h: FloatArray,
) -> FloatArray | None:
    """η + κ_s (P × times): the patient's log BP sensitivity plus that of the session under
    way at each time (the latest session started; κ_s = ω_session·z_s, ``session_z`` P × S)."""
    if eta_bp is None and (session_z is None or omega_session == 0.0):
        return None
    n = session_z.shape[0] if session_z is not None else len(eta_bp)  # type: ignore[arg-type]
    total = np.zeros((n, times_h.size)) + (0.0 if eta_bp is None else eta_bp[:, None])
    if session_z is not None and omega_session and len(session_starts_h):
        index = np.clip(np.searchsorted(np.asarray(session_starts_h), times_h, side="right") - 1, 0, None)
        total = total + omega_session * session_z[:, index]
    return total


def reading_sd(p: AdverseParameters, pressure: Literal["SBP", "DBP"]) -> float:
    """SD (mmHg) of one recorded reading of ``pressure`` around the patient's session curve."""
    return p.sbp_reading_sd if pressure == "SBP" else p.dbp_reading_sd


def record_bp(
    bp_mmhg: FloatArray, pressure: Literal["SBP", "DBP"], p: AdverseParameters, rng: np.random.Generator
) -> FloatArray:
    """Blood pressure as a cuff records it: each reading departs from the patient's curve by
    its own error (SD :func:`reading_sd`: cuff error and minute-to-minute fluctuation, fitted),
    so the largest of several readings over-states the peak, as published peaks do."""
    recorded: FloatArray = bp_mmhg + reading_sd(p, pressure) * rng.standard_normal(np.shape(bp_mmhg))
    return recorded


def recorded_session_rise(readings: FloatArray) -> FloatArray:
    """A session's rise as published (readings on the last axis, the first pre-dose): the
    highest reading after the dose minus the pre-dose one."""
    rise: FloatArray = np.max(readings[..., 1:], axis=-1) - readings[..., 0]
    return rise


def session_probabilities(peak_occupancy: FloatArray, p: AdverseParameters) -> dict[str, FloatArray]:
    """Probability of each adverse event at a session, from the session's peak occupancy
    (0 for a placebo session: then only the placebo rate p₀ remains)."""
    return {a: 1.0 - (1.0 - p0) * np.exp(-p.ae_beta[a] * peak_occupancy) for a, p0 in p.ae_p0.items()}


class Flag(BaseModel):
    """A flag raised by the dosing pattern (not a prediction), with its source."""

    flag: Literal["abuse_misuse_risk", "bladder_toxicity_risk"]
    message: str
    source: str


def exposure_flags(ketamine_session_days: Sequence[float], drug: str, params: ParameterSet) -> list[Flag]:
    """Flags for frequent, long-term dosing (abuse/misuse; bladder toxicity). Not predictions."""
    days = np.sort(np.asarray(ketamine_session_days, dtype=np.float64))
    flags: list[Flag] = []
    if days.size == 0:
        return flags
    per_28 = int(max(np.sum((days >= d) & (days < d + 28)) for d in days))
    abuse = params.entry("adverse.abuse_flag_sessions_per_28_days")
    if per_28 >= abuse.value:
        flags.append(
            Flag(
                flag="abuse_misuse_risk",
                message=f"{per_28} {drug} sessions within 28 days (flag at {abuse.value:g}): frequent dosing; "
                "abuse and misuse is a boxed warning.",
                source=abuse.source,
            )
        )
    bladder = params.entry("adverse.bladder_flag_months_of_regular_use")
    gaps = np.diff(days)
    span_days = float(days[-1] - days[0])
    if days.size >= 2 and span_days >= bladder.value * 30.0 and float(np.max(gaps)) <= 7.0:
        flags.append(
            Flag(
                flag="bladder_toxicity_risk",
                message=f"at least weekly {drug} for {span_days / 30:.1f} months: monitor urinary symptoms "
                "(ulcerative or interstitial cystitis warning).",
                source=bladder.source,
            )
        )
    return flags
