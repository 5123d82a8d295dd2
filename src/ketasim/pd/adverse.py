"""Side effects: dissociation, blood pressure and heart rate, per-session adverse events,
and a cumulative-exposure tracker.

    CADSS(t)  = c_max·e^η · O^n/(O50^n + O^n) / (1 + k_tol·T(t))   O: NMDA occupancy (effect site)
    T(t)      = (1/AUC₁) ∫ O(s)·e^{−(t−s)/τ_tol} ds              exposure-weighted sessions, τ_tol 28 d
    ΔSBP(t)   = E_SBP·O^m/(O50_BP^m + O^m), likewise ΔDBP and ΔHR     (peaks with occupancy, ~40 min)
    p_AE,s    = 1 − (1 − p₀)·exp(−β·O_peak,s)                     per session, for nausea, vomiting,
                                                                   dizziness, sedation, vertigo, hypoesthesia

AUC₁ is the occupancy AUC of one standard infusion, so T counts "standard sessions".
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
from ketasim.pd._filters import first_order
from ketasim.vocabulary import names

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class AdverseParameters:
    """Side-effect parameters (fitted, except where a label table fixes them)."""

    cadss_max: float
    cadss_o50: float
    cadss_hill: float
    cadss_omega: float
    tolerance_gain: float
    tau_tolerance_h: float
    sbp_max: float
    dbp_max: float
    hr_max: float
    bp_o50: float
    bp_hill: float
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
            cadss_o50=p["cadss_occupancy50"],
            cadss_hill=p["cadss_hill"],
            cadss_omega=p["cadss_omega"],
            tolerance_gain=p["dissociation_tolerance_gain"],
            tau_tolerance_h=p["tau_tolerance_days"] * 24.0,
            sbp_max=p["sbp_rise_max_mmhg"],
            dbp_max=p["dbp_rise_max_mmhg"],
            hr_max=p["hr_rise_max_bpm"],
            bp_o50=p["bp_occupancy50"],
            bp_hill=p["bp_hill"],
            ae_p0={a: rate(a, "p0") for a in names("adverse_events")},
            ae_beta={a: rate(a, "beta") for a in names("adverse_events")},
        )


def tolerance_index(occupancy: FloatArray, grid_h: FloatArray, tau_h: float, auc_one_session: float) -> FloatArray:
    """T(t) on the nodes ``grid_h``: exposure-weighted count of recent standard sessions
    (decays with τ_tol), dT/dt = O/AUC₁ − T/τ_tol."""
    return first_order(occupancy, tau_h, grid_h) * tau_h / auc_one_session


def cadss(
    occupancy: FloatArray, tolerance: FloatArray, p: AdverseParameters, eta: FloatArray | None = None
) -> FloatArray:
    """Dissociation (CADSS total, 0–92) from occupancy, lessened by tolerance; ``eta`` (P,)
    is each patient's log-sensitivity."""
    o = np.maximum(occupancy, 0.0) ** p.cadss_hill
    sensitivity = 1.0 if eta is None else np.exp(eta)[:, None]
    value = sensitivity * p.cadss_max * o / (p.cadss_o50**p.cadss_hill + o) / (1.0 + p.tolerance_gain * tolerance)
    clipped: FloatArray = np.clip(value, 0.0, 92.0)
    return clipped


def haemodynamics(
    occupancy: FloatArray, p: AdverseParameters, eta_bp: FloatArray | None = None
) -> dict[str, FloatArray]:
    """Rises above baseline: SBP and DBP (mmHg) and heart rate (bpm); ``eta_bp`` (P,) is
    each patient's log sensitivity (between-patient variability, ω ``bp_omega``)."""
    o = np.maximum(occupancy, 0.0) ** p.bp_hill
    effect = o / (p.bp_o50**p.bp_hill + o)
    if eta_bp is not None:
        effect = effect * np.exp(eta_bp)[:, None]
    return {
        "sbp_rise_mmhg": p.sbp_max * effect,
        "dbp_rise_mmhg": p.dbp_max * effect,
        "hr_rise_bpm": p.hr_max * effect,
    }


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
