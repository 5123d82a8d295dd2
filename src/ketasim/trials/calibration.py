"""`ketasim calibrate`: fit only the parameters no source fixes, deterministically.

Three stages, each a bounded least-squares fit (SciPy ``least_squares``, trust-region
reflective) on residuals (predicted − observed)/tolerance over the targets of
``data/targets.yaml``, with common random numbers (fixed seeds), so a re-run gives the same
numbers:

1. glutamate adaptation: the time constant that puts the glutamate peak 26 min into a
   0.5 mg/kg 40-min infusion (Milak et al. 2016) — a one-dimensional root;
2. efficacy: weights and saturation of the ketamine drive, spine stabilisation, placebo
   (session, sustained, midazolam), antidepressant effect, their between-patient spreads,
   and one gain per non-TRD condition — on every symptom target (and the reported SDs of
   change, which carry the spread);
3. side effects: dissociation (Emax, occupancy50, Hill, spread, tolerance), blood pressure and
   heart-rate slopes, and per-session adverse-event rates — on the adverse targets.

Low-reliability targets ([L]) get half weight.  Values go to ``data/calibrated.yaml``.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq, least_squares

from ketasim.pd._params import Calibrated, dump_calibrated
from ketasim.pd.cascade import CascadeParameters, _upstream, standard_infusion_occupancy
from ketasim.trials._targets import Target, load_targets
from ketasim.trials.validation import Evaluator, predict, start_h

FloatArray = NDArray[np.float64]
MILAK_PEAK_MIN = 26.0  # Milak et al. 2016 Mol Psychiatry 21:320


@dataclass(frozen=True)
class FreeParameter:
    """A fitted parameter: name, bounds, and whether it is fitted on the log scale."""

    name: str
    start: float
    low: float
    high: float
    log: bool = True


# per-session adverse events fitted on the targets (vomiting has no target: it is derived from
# the label table in cascade.yaml instead); starting values (p0, beta) from the previous fit
AE_FITTED = ("nausea", "dizziness", "sedation", "vertigo", "hypoesthesia", "sedation_moaas", "dissociation_reported")
AE_START = {
    "nausea": (0.0117, 0.0781),
    "dizziness": (0.0104, 0.0864),
    "sedation": (0.0102, 0.071),
    "vertigo": (0.0038, 0.077),
    "hypoesthesia": (0.00252, 0.0594),
    "sedation_moaas": (0.0112, 0.238),
    "dissociation_reported": (0.0117, 0.145),
}
EFFICACY = (
    FreeParameter("efficacy_emax", 0.428, 0.05, 10.0),
    FreeParameter("efficacy_d50", 0.314, 0.02, 50.0),
    FreeParameter("efficacy_slow_weight", 0.215, 0.01, 20.0),
    FreeParameter("tau_mood_onset_h", 1.3, 0.25, 24.0),
    FreeParameter("drug_gain_omega", 2.08, 0.05, 2.5),
    FreeParameter("spine_stable_fraction", 0.001, 0.001, 0.95),
    FreeParameter("tau_spine_stable_days", 3.0, 3.0, 180.0),
    FreeParameter("placebo_session_effect", 0.057, 0.001, 3.0),
    FreeParameter("placebo_sustained_effect", 0.0636, 0.001, 3.0),
    FreeParameter("midazolam_factor", 9.83, 1.0, 10.0),
    FreeParameter("placebo_gain_omega", 1.96, 0.05, 2.5),
    FreeParameter("ssri_effect", 0.272, 0.01, 5.0),
    FreeParameter("ssri_gain_omega", 1.36, 0.05, 2.5),
    FreeParameter("ssri_onset_omega", 0.664, 0.05, 2.5),
    FreeParameter("residual_sd_log", 0.299, 0.01, 1.0),
    FreeParameter("condition_mdd_ssri_gain", 0.52, 0.1, 10.0),
    FreeParameter("condition_bipolar_depression_drug_gain", 0.516, 0.05, 20.0),
    FreeParameter("condition_ptsd_drug_gain", 1.22, 0.05, 20.0),
    FreeParameter("condition_gad_drug_gain", 2.2, 0.05, 20.0),
    FreeParameter("condition_ocd_drug_gain", 2.85, 0.05, 20.0),
    FreeParameter("condition_suicidal_ideation_drug_gain", 0.651, 0.05, 20.0),
    FreeParameter("condition_bipolar_depression_placebo_gain", 0.388, 0.01, 10.0),
    FreeParameter("condition_ocd_placebo_gain", 0.5, 0.01, 10.0),
)
ADVERSE = (
    FreeParameter("cadss_max", 26.4, 1.0, 92.0),
    FreeParameter("cadss_occupancy50", 0.536, 0.05, 0.95),
    FreeParameter("cadss_hill", 4.12, 1.0, 12.0),
    FreeParameter("cadss_omega", 1.01, 0.05, 2.5),
    FreeParameter("dissociation_tolerance_gain", 0.332, 0.001, 5.0),
    FreeParameter("sbp_rise_max_mmhg", 26.0, 0.5, 200.0),
    FreeParameter("dbp_rise_max_mmhg", 24.2, 0.5, 200.0),
    FreeParameter("hr_rise_max_bpm", 6.59, 0.5, 200.0),
    FreeParameter("bp_occupancy50", 0.603, 0.05, 0.95),
    FreeParameter("bp_hill", 2.49, 1.0, 12.0),
    *(FreeParameter(f"ae_{a}_p0", AE_START[a][0], 1e-4, 0.5) for a in AE_FITTED),
    *(FreeParameter(f"ae_{a}_beta", AE_START[a][1], 1e-3, 50.0) for a in AE_FITTED),
)


def _to_x(params: Sequence[FreeParameter]) -> FloatArray:
    out = []
    for p in params:
        v = min(max(p.start, p.low), p.high)
        out.append(math.log(v) if p.log else v)
    return np.array(out)


def _from_x(params: Sequence[FreeParameter], x: FloatArray) -> dict[str, float]:
    return {p.name: float(math.exp(v) if p.log else v) for p, v in zip(params, x, strict=True)}


def _bounds(params: Sequence[FreeParameter]) -> tuple[FloatArray, FloatArray]:
    lo = np.array([math.log(p.low) if p.log else p.low for p in params])
    hi = np.array([math.log(p.high) if p.log else p.high for p in params])
    return lo, hi


def residual(target: Target, predicted: float | None) -> float:
    """(predicted − observed)/tolerance; a CI-judged target uses the CI's log half-width."""
    if predicted is None or not math.isfinite(predicted):
        return 3.0
    weight = 0.5 if target.reliability == "L" else 1.0
    if target.endpoint == "not_significant":
        return weight * max(0.0, abs(predicted) - target.tolerance) / target.tolerance
    if target.tolerance == 0 and target.ci is not None:
        half = 0.5 * (math.log(target.ci[1]) - math.log(target.ci[0]))
        return weight * (math.log(max(predicted, 1e-3)) - math.log(target.observed)) / max(half, 1e-6)
    return weight * (predicted - target.observed) / max(target.tolerance, 1e-9)


def _sd_residuals(targets: Sequence[Target], ev: Evaluator) -> list[float]:
    """Reported SDs of change (mean-change targets with an SD) against the simulated SD."""
    out = []
    for t in targets:
        if t.endpoint != "mean_change" or t.sd is None or t.scale not in ("MADRS", "HAM-D17", "CAPS-5"):
            continue
        t_eval = start_h(t.arm) + (t.time_h or 0.0)
        r = ev.run(t, t.arm, np.array([t_eval]))
        scale = next(iter(r.scales))
        change = r.scales[scale][:, 0] - r.baselines[scale]
        out.append((float(np.std(change, ddof=1)) - t.sd) / 5.0)
    return out


def fit_glutamate_adaptation() -> float:
    """τ (min) putting the glutamate peak 26 min into the standard infusion (Milak 2016)."""
    step_h = 15.0 / 3600.0  # a uniform 15-s grid over the first 3 h, for the parabolic peak refinement
    times = np.arange(0.0, 3.0, step_h)
    occ = standard_infusion_occupancy(times)[None, :]
    base = CascadeParameters.default()

    def peak_minus_target(tau_min: float) -> float:
        p = CascadeParameters(**{**base.__dict__, "tau_adapt_h": tau_min / 60.0})
        surge = _upstream(occ, times, p, {})["surge"][0]
        i = int(np.argmax(surge))
        # parabolic refinement of the grid maximum
        y0, y1, y2 = surge[i - 1], surge[i], surge[i + 1]
        shift = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) if (y0 - 2 * y1 + y2) != 0 else 0.0
        return (i + shift) * step_h * 60.0 - MILAK_PEAK_MIN

    return float(brentq(peak_minus_target, 1.0, 600.0, xtol=1e-4))


def _fit(
    params: Sequence[FreeParameter],
    targets: Sequence[Target],
    fixed_values: dict[str, float],
    n: int,
    extra: Callable[[Evaluator], list[float]] | None = None,
    max_nfev: int = 60,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, float], float]:
    ev = Evaluator(n=n, overrides=dict(fixed_values))
    calls = [0]

    def residuals(x: FloatArray) -> FloatArray:
        ev.overrides.update(_from_x(params, x))
        res = [residual(t, predict(t, ev)[0]) for t in targets]
        if extra is not None:
            res += extra(ev)
        calls[0] += 1
        if calls[0] % 25 == 0:
            log(f"  evaluation {calls[0]}: cost {0.5 * float(np.sum(np.square(res))):.2f}")
        return np.array(res)

    x0 = _to_x(params)
    lo, hi = _bounds(params)
    sol = least_squares(residuals, x0, bounds=(lo, hi), method="trf", diff_step=0.05, max_nfev=max_nfev)
    return _from_x(params, sol.x), float(sol.cost)


def calibrate(n: int = 200, max_nfev: int = 60, log: Callable[[str], None] = print) -> Calibrated:
    """Run the three stages from the fixed starting values in this module (so that a re-run
    reproduces the file); return the new calibration."""
    values = {p.name: p.start for p in (*EFFICACY, *ADVERSE)}
    log("stage 1: glutamate adaptation (Milak 2016 peak at 26 min)")
    values["tau_glutamate_adaptation_min"] = fit_glutamate_adaptation()
    targets = [t for t in load_targets() if t.addressable]
    symptom = [t for t in targets if t.family != "adverse"]
    adverse = [t for t in targets if t.family == "adverse"]
    symptom_fit = [t for t in symptom if t.endpoint != "not_significant" or t.control is not None]
    log(f"stage 2: efficacy, placebo and antidepressant ({len(EFFICACY)} parameters, {len(symptom_fit)} targets)")
    fitted, cost_2 = _fit(
        EFFICACY,
        symptom_fit,
        values,
        n,
        extra=lambda ev: _sd_residuals(symptom_fit, ev),
        max_nfev=max_nfev,
        log=log,
    )
    values.update(fitted)
    log(f"stage 3: side effects ({len(ADVERSE)} parameters, {len(adverse)} targets)")
    fitted, cost_3 = _fit(ADVERSE, adverse, values, n, max_nfev=max_nfev, log=log)
    values.update(fitted)
    rounded = {k: float(f"{v:.5g}") for k, v in values.items()}
    return Calibrated(
        fit_date=_dt.date.today().isoformat(),
        method=(
            f"scipy least_squares (trf, finite-difference step 5% on the log scale to see through Monte Carlo "
            f"discreteness), residuals (predicted − observed)/tolerance, n = {n} virtual patients per arm with "
            f"fixed seeds, max {max_nfev} evaluations per stage"
        ),
        values=rounded,
        targets_used=tuple(t.id for t in targets),
        objective=round(cost_2 + cost_3, 4),
        notes=(
            "stage 1: tau_glutamate_adaptation_min from Milak et al. 2016 (peak 26 min into infusion)",
            "stage 2 targets: every addressable non-adverse target, plus reported SDs of change",
            "stage 3 targets: every addressable adverse target",
        ),
    )


def write_calibration(cal: Calibrated, path: str) -> None:
    """Write atomically (a failed run leaves the old file)."""
    from ketasim.io.files import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(dump_calibrated(cal), encoding="utf-8")
