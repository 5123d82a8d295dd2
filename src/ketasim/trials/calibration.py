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

Low-reliability targets ([L]) get half weight.  The result is a new parameter file (``ketasim
calibrate --out FILE``); the packaged ``data/calibrated.yaml`` is one such file, never
rewritten by the command.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq, least_squares

from ketasim.io.files import atomic_path
from ketasim.params import Calibration, FreeParameter, ParameterSet, default_parameters, dump_calibration
from ketasim.params import free_parameters as declared
from ketasim.pd.cascade import CascadeParameters, _upstream, standard_infusion_occupancy
from ketasim.pd.receptor import affinities_um
from ketasim.trials.targets import Target, load_targets
from ketasim.trials.validation import Evaluator, predict, start_h

FloatArray = NDArray[np.float64]
MILAK_PEAK_MIN = 26.0  # Milak et al. 2016 Mol Psychiatry 21:320


def stage(name: str) -> tuple[FreeParameter, ...]:
    """The free parameters a calibration stage fits (``data/pd/free_parameters.yaml``)."""
    return tuple(p for p in declared() if p.stage == name)


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


def fit_glutamate_adaptation(params: ParameterSet) -> float:
    """τ (min) putting the glutamate peak 26 min into the standard infusion (Milak 2016)."""
    step_h = 15.0 / 3600.0  # a uniform 15-s grid over the first 3 h, for the parabolic peak refinement
    times = np.arange(0.0, 3.0, step_h)
    occ = standard_infusion_occupancy(times, affinities_um(params))[None, :]
    base = CascadeParameters.from_params(params)

    def peak_minus_target(tau_min: float) -> float:
        surge = _upstream(occ, times, replace(base, tau_adapt_h=tau_min / 60.0), {})["surge"][0]
        i = int(np.argmax(surge))
        # parabolic refinement of the grid maximum
        y0, y1, y2 = surge[i - 1], surge[i], surge[i + 1]
        shift = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) if (y0 - 2 * y1 + y2) != 0 else 0.0
        return (i + shift) * step_h * 60.0 - MILAK_PEAK_MIN

    return float(brentq(peak_minus_target, 1.0, 600.0, xtol=1e-4))


def _fit(
    free: Sequence[FreeParameter],
    targets: Sequence[Target],
    params: ParameterSet,
    n: int,
    extra: Callable[[Evaluator], list[float]] | None = None,
    max_nfev: int = 60,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, float], float]:
    ev = Evaluator(n=n, params=params)
    calls = [0]

    def residuals(x: FloatArray) -> FloatArray:
        ev.params = params.replace(_from_x(free, x))
        res = [residual(t, predict(t, ev)[0]) for t in targets]
        if extra is not None:
            res += extra(ev)
        calls[0] += 1
        if calls[0] % 25 == 0:
            log(f"  evaluation {calls[0]}: cost {0.5 * float(np.sum(np.square(res))):.2f}")
        return np.array(res)

    x0 = _to_x(free)
    lo, hi = _bounds(free)
    sol = least_squares(residuals, x0, bounds=(lo, hi), method="trf", diff_step=0.05, max_nfev=max_nfev)
    return _from_x(free, sol.x), float(sol.cost)


def calibrate(
    n: int = 200,
    max_nfev: int = 60,
    log: Callable[[str], None] = print,
    *,
    targets: Sequence[Target] | None = None,
    params: ParameterSet | None = None,
) -> Calibration:
    """Run the three stages from the declared starting values (so that a re-run reproduces
    the result) on ``targets`` (default: every addressable packaged target); the fixed values
    come from ``params`` (default: the packaged set)."""
    base = (params or default_parameters()).replace({p.name: p.start for p in declared()})
    log("stage 1: glutamate adaptation (Milak 2016 peak at 26 min)")
    base = base.replace(tau_glutamate_adaptation_min=fit_glutamate_adaptation(base))
    chosen = [t for t in (targets if targets is not None else load_targets()) if t.addressable]
    symptom = [t for t in chosen if t.family != "adverse"]
    adverse = [t for t in chosen if t.family == "adverse"]
    symptom_fit = [t for t in symptom if t.endpoint != "not_significant" or t.control is not None]
    efficacy, side_effects = stage("efficacy"), stage("adverse")
    cost_2 = cost_3 = 0.0
    if symptom_fit:
        log(f"stage 2: efficacy, placebo and antidepressant ({len(efficacy)} parameters, {len(symptom_fit)} targets)")
        fitted, cost_2 = _fit(
            efficacy, symptom_fit, base, n, extra=lambda ev: _sd_residuals(symptom_fit, ev), max_nfev=max_nfev, log=log
        )
        base = base.replace(fitted)
    if adverse:
        log(f"stage 3: side effects ({len(side_effects)} parameters, {len(adverse)} targets)")
        fitted, cost_3 = _fit(side_effects, adverse, base, n, max_nfev=max_nfev, log=log)
        base = base.replace(fitted)
    values = {p.name: float(f"{base[p.name]:.5g}") for p in declared()}
    return Calibration(
        fit_date=_dt.date.today().isoformat(),
        method=(
            f"scipy least_squares (trf, finite-difference step 5% on the log scale to see through Monte Carlo "
            f"discreteness), residuals (predicted − observed)/tolerance, n = {n} virtual patients per arm with "
            f"fixed seeds, max {max_nfev} evaluations per stage"
        ),
        values=values,
        targets_used=tuple(t.id for t in chosen),
        objective=round(cost_2 + cost_3, 4),
        notes=(
            "stage 1: tau_glutamate_adaptation_min from Milak et al. 2016 (peak 26 min into infusion)",
            "stage 2 targets: every addressable non-adverse target, plus reported SDs of change",
            "stage 3 targets: every addressable adverse target",
        ),
    )


def write_calibration(cal: Calibration, path: str) -> None:
    """Write atomically (a failed run leaves the old file)."""
    with atomic_path(path) as tmp:
        tmp.write_text(dump_calibration(cal), encoding="utf-8")
