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
3. side effects: dissociation (Emax, drive50, Hill, acute adaptation, tolerance), blood pressure and
   heart-rate slopes, and per-session adverse-event rates — on the adverse targets.

Low-reliability targets ([L]) get half weight.  Relative gains (the condition multipliers
``condition_*_gain``, esketamine's and the older adults'; ``shrunk: true``) are shrunk toward
1 (the TRD value) by a prior residual log(g)/0.5 (**assumed**: a log-normal prior with SD
0.5, so that a gain fitted on a few small studies stays near the depression value unless the
data insist).  The result is a new parameter file (``ketasim
calibrate --out FILE``); the packaged ``data/calibrated.yaml`` is one such file, never
rewritten by the command.

Each fitted value carries an approximate 95% interval from the Jacobian at the optimum
(Wald, residual variance from the fit) and a status (identified, weakly identified, at a
bound, not identifiable).  With ``folds=k`` the same calibration is rerun k times, each time
without the targets of one fold of *studies* (:func:`assign_folds`: studies — a target's
source, or its ``study`` when several sources report the same patients — in the fixed folds
of ``data/folds.yaml`` for k = 5, a study added since in the smallest fold; other k dealt
round-robin in CRC-32 order of their name; never dependent on file order);
``ketasim validate`` predicts each fold's targets with the values fitted without them.
Each refit starts from the same fold's refit of the previous calibration
(``data/pd/fold_starts.yaml``; :func:`fold_start_values`), not from the declared starts,
which full fits chose with the held-out studies.
"""

from __future__ import annotations

import datetime as _dt
import math
import multiprocessing
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq, least_squares

from ketasim.errors import InputError
from ketasim.io.data import read_packaged_yaml
from ketasim.io.files import atomic_path, stop_if_terminated
from ketasim.params import (
    Calibration,
    FoldFit,
    FreeParameter,
    ParameterFit,
    ParameterSet,
    default_parameters,
    dump_calibration,
)
from ketasim.params import free_parameters as declared
from ketasim.pd.cascade import CascadeParameters, _upstream, standard_infusion_occupancy
from ketasim.pd.receptor import affinities_um
from ketasim.trials.targets import Target, load_targets
from ketasim.trials.validation import Evaluator, predict, start_h

FloatArray = NDArray[np.float64]
MILAK_PEAK_MIN = 26.0  # Milak et al. 2016 Mol Psychiatry 21:320
CONDITION_PRIOR_SD = 0.5
"""SD of the log-normal prior shrinking each condition multiplier toward 1 (assumed)."""
MAX_FOLDS = 20
MAX_STARTS = 8
DIFF_STEP = 0.05
"""Finite-difference step of the least squares, on the fitted (log) scale: 5% sees through
the Monte Carlo discreteness of rates from a few hundred virtual patients (:func:`fd_steps`)."""
START_JITTER_LOG = 0.5
"""SD of the deterministic jitter of the extra starts on the log scale (a factor ~1.65);
linear parameters get the same fraction of their log-equivalent, 10% of the box (assumed)."""


class CalibrationError(InputError):
    """A calibration option out of range, or a refit that failed."""


def source_key(target: Target) -> str:
    """The study a target comes from: its ``study`` when several sources report the same
    patients, otherwise its source up to the first comma."""
    return target.study or target.source.split(",")[0].strip()


def fittable(targets: Sequence[Target]) -> list[Target]:
    """The targets a calibration fits: addressable, and not the source of a derived value."""
    return [t for t in targets if t.addressable and t.derives is None]


def assign_folds(targets: Sequence[Target], k: int) -> tuple[tuple[str, ...], ...]:
    """k folds of studies (each a sorted tuple of :func:`source_key`), never splitting a study
    and not depending on the order of the targets file.  For the k of ``data/folds.yaml`` the
    folds are that file's, fixed (studies absent from ``targets`` dropped); a study it does not
    list joins the fold with the fewest studies (ties: the lower fold), in CRC-32 order of the
    names, so adding a study moves none the file lists (a packaged study is recorded there).
    Other k: studies in CRC-32 order of their name, dealt round-robin."""
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= MAX_FOLDS:
        raise CalibrationError.one("folds", f"{k!r} is not allowed: a whole number from 2 to {MAX_FOLDS}")
    keys = sorted({source_key(t) for t in targets}, key=lambda s: (zlib.crc32(s.encode()), s))
    if len(keys) < k:
        raise CalibrationError.one("folds", f"{k} folds need at least {k} sources; the targets come from {len(keys)}")
    fixed = fixed_folds()
    if len(fixed) != k:
        return tuple(tuple(sorted(keys[i::k])) for i in range(k))
    present = set(keys)
    folds = [[s for s in fold if s in present] for fold in fixed]
    dealt = {s for fold in fixed for s in fold}
    for key in (s for s in keys if s not in dealt):
        min(folds, key=len).append(key)  # min keeps the first (lowest) fold on ties
    return tuple(tuple(sorted(fold)) for fold in folds)


@cache
def fixed_folds() -> tuple[tuple[str, ...], ...]:
    """The packaged folds (``data/folds.yaml``): each fold's studies."""
    data = read_packaged_yaml("folds.yaml")
    folds = tuple(tuple(fold) for fold in data["folds"])
    if len(folds) != data["k"] or len({s for f in folds for s in f}) != sum(map(len, folds)):
        raise ValueError("data/folds.yaml: k folds expected, each study in one of them")
    return folds


@contextmanager
def _worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` spawned processes.  On success it waits for them; when the main
    process is stopped (SIGTERM's SystemExit, Ctrl-C, an error) it kills them at once instead
    of waiting for refits that take minutes, so the command ends when asked."""
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    except BaseException:
        # No public way to stop a running worker before Python 3.14 (terminate_workers).
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def stage(name: str) -> tuple[FreeParameter, ...]:
    """The free parameters a calibration stage fits (``data/pd/free_parameters.yaml``)."""
    return tuple(p for p in declared() if p.stage == name)


def _to_x(params: Sequence[FreeParameter], values: dict[str, float] | None = None) -> FloatArray:
    """Values (default: the declared starts) on the fitted scale, each inside its box."""
    out = []
    for p in params:
        v = min(max((values or {}).get(p.name, p.start), p.low), p.high)
        out.append(math.log(v) if p.log else v)
    return np.array(out)


def start_points(
    params: Sequence[FreeParameter], starts: int, stage_name: str, values: dict[str, float] | None = None
) -> list[FloatArray]:
    """The start (declared, or ``values`` where given), then ``starts`` − 1 jittered copies of
    it (fixed seeds from the stage's name, so a re-run starts from the same points), each
    inside the search box."""
    x0 = _to_x(params, values)
    lo, hi = _bounds(params)
    scale = np.array([START_JITTER_LOG if p.log else 0.1 * (p.high - p.low) for p in params])
    points = [x0]
    for j in range(1, starts):
        rng = np.random.default_rng(zlib.crc32(f"calibration-start:{stage_name}:{j}".encode()))
        points.append(np.clip(x0 + scale * rng.standard_normal(x0.size), lo, hi))
    return points


def _from_x(params: Sequence[FreeParameter], x: FloatArray) -> dict[str, float]:
    return {p.name: float(math.exp(v) if p.log else v) for p, v in zip(params, x, strict=True)}


def _bounds(params: Sequence[FreeParameter]) -> tuple[FloatArray, FloatArray]:
    lo = np.array([math.log(p.low) if p.log else p.low for p in params])
    hi = np.array([math.log(p.high) if p.log else p.high for p in params])
    return lo, hi


def residual(target: Target, predicted: float | None) -> float:
    """(predicted − observed)/tolerance; beyond a bound only (0 on its side); a CI-judged
    target uses the CI's log half-width."""
    if predicted is None or not math.isfinite(predicted):
        return 3.0
    weight = 0.5 if target.reliability == "L" else 1.0
    if target.endpoint == "not_significant":
        return weight * max(0.0, abs(predicted) - target.tolerance) / target.tolerance
    if target.tolerance == 0 and target.ci is not None:
        half = 0.5 * (math.log(target.ci[1]) - math.log(target.ci[0]))
        return weight * (math.log(max(predicted, 1e-3)) - math.log(target.observed)) / max(half, 1e-6)
    if target.bound is not None:
        return weight * target.excess(predicted) / target.tolerance
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


def _prior(free: Sequence[FreeParameter], x: FloatArray) -> list[float]:
    """Shrinkage of the relative gains (``shrunk: true``) toward 1 (module docstring)."""
    return [float(v) / CONDITION_PRIOR_SD for p, v in zip(free, x, strict=True) if p.shrunk and p.log]


def parameter_fits(
    free: Sequence[FreeParameter], x: FloatArray, jac: FloatArray, cost: float
) -> dict[str, ParameterFit]:
    """Wald 95% intervals from the Jacobian J at the optimum: cov = s²·(JᵀJ)⁺ with
    s² = 2·cost/(m − p), on the fitted (log or linear) scale, and each value's status; the
    pseudo-inverse keeps singular values above 10⁻⁶ of the largest, and a parameter loading on
    a dropped direction is not identifiable."""
    lo, hi = _bounds(free)
    m, k = jac.shape
    s2 = 2.0 * cost / max(m - k, 1)
    _, sv, vt = np.linalg.svd(jac, full_matrices=False)
    kept = sv > max(float(sv.max(initial=0.0)) * 1e-6, 1e-300)
    cov = s2 * (vt[kept].T / sv[kept] ** 2) @ vt[kept]
    # a parameter loading on a direction the targets do not constrain is not identifiable
    unconstrained = np.any(np.abs(vt[~kept]) > 0.1, axis=0) if np.any(~kept) else np.zeros(k, dtype=bool)
    out: dict[str, ParameterFit] = {}
    for i, p in enumerate(free):
        width = hi[i] - lo[i]
        on_bound = min(x[i] - lo[i], hi[i] - x[i]) <= 1e-3 * width
        se = math.sqrt(max(float(cov[i, i]), 0.0))
        read = float(np.linalg.norm(jac[:, i])) > 1e-8
        moved = read and not unconstrained[i]
        ci = None
        a, b = x[i] - 1.96 * se, x[i] + 1.96 * se
        if moved and math.isfinite(se) and (not p.log or max(abs(a), abs(b)) < 700.0):  # exp() stays finite
            ci = (
                (float(f"{math.exp(a):.4g}"), float(f"{math.exp(b):.4g}"))
                if p.log
                else (float(f"{a:.4g}"), float(f"{b:.4g}"))
            )
        status: Literal["identified", "weakly_identified", "at_bound", "not_identifiable"]
        if not read:  # no target reads it: wherever it sits (its start may be a bound)
            status = "not_identifiable"
        elif on_bound:
            status = "at_bound"
        elif not moved or ci is None:
            status = "not_identifiable"
        elif (1.96 * 2 * se > math.log(10.0)) if p.log else (1.96 * 2 * se > width):
            status = "weakly_identified"
        else:
            status = "identified"
        out[p.name] = ParameterFit(ci95=ci, status=status)
    return out


@dataclass(frozen=True)
class StageFit:
    """One least-squares stage: values, cost, the uncertainty of each value, and whether it
    stopped at its evaluation budget rather than at a tolerance."""

    values: dict[str, float]
    cost: float
    uncertainty: dict[str, ParameterFit]
    budget_reached: bool


def fd_steps(free: Sequence[FreeParameter], x: FloatArray, hi: FloatArray) -> FloatArray:
    """Forward-difference step of each parameter at ``x`` (fitted scale): :data:`DIFF_STEP` on
    the log scale (a 5% change of the value, whatever the value), :data:`DIFF_STEP`·max(1, |x|)
    for a linear one; backwards where it would leave the box at the top.  (SciPy's own
    ``diff_step`` is relative to |x|: a gain at 1 sits at x = 0, where SciPy falls back to a
    step of 1.5·10⁻⁸ that no Monte Carlo rate can see, so such a gain never moved.)"""
    step = np.array([DIFF_STEP if p.log else DIFF_STEP * max(1.0, abs(float(v))) for p, v in zip(free, x, strict=True)])
    return np.where(x + step > hi, -step, step)


def forward_jacobian(
    fun: Callable[[FloatArray], FloatArray], x: FloatArray, f0: FloatArray, steps: FloatArray
) -> FloatArray:
    """∂fun/∂x by forward differences with the given steps (one evaluation per column)."""
    jac = np.empty((f0.size, x.size))
    for j, h in enumerate(steps):
        moved = x.copy()
        moved[j] += h
        jac[:, j] = (fun(moved) - f0) / h
    return jac


def informed(
    data_residuals: Callable[[FloatArray], FloatArray], x0: FloatArray, steps: FloatArray | None = None
) -> NDArray[np.bool_]:
    """Which parameters move at least one data residual: a one-sided step from ``x0`` for each
    (``steps``, default :data:`DIFF_STEP`; the fit passes :func:`fd_steps`).  With common
    random numbers a parameter no target reads leaves every residual bitwise unchanged."""
    r0 = data_residuals(x0)
    h = np.full(x0.size, DIFF_STEP) if steps is None else steps
    out = np.zeros(x0.size, dtype=bool)
    for i in range(x0.size):
        x = x0.copy()
        x[i] += h[i]
        out[i] = not np.array_equal(data_residuals(x), r0)
    return out


def _fit(
    free: Sequence[FreeParameter],
    targets: Sequence[Target],
    params: ParameterSet,
    n: int,
    extra: Callable[[Evaluator], list[float]] | None = None,
    max_nfev: int = 60,
    log: Callable[[str], None] = print,
    starts: int = 1,
    stage_name: str = "stage",
    start_values: dict[str, float] | None = None,
) -> StageFit:
    """Least squares from each of :func:`start_points`; the fit with the lowest cost wins.

    A parameter that no target of this fit reads (:func:`informed`; e.g. the heart-rate
    slope in a cross-validation fold without the one heart-rate study) is not fitted: it is
    held at its uninformed value (:attr:`FreeParameter.held_value`: 1 for a relative gain,
    no effect for a declared null) and reported as not identifiable.  Left free, the optimiser
    would move it anywhere in its box (a fold once put the heart-rate rise at 95 bpm); held at
    its start, a fold would predict its held-out studies with a value fitted on them."""
    ev = Evaluator(n=n, params=params)
    calls = [0]
    x_start = _to_x(free, start_values)

    def data_residuals(x: FloatArray) -> FloatArray:
        ev.params = params.replace(_from_x(free, x))
        res = [residual(t, predict(t, ev)[0]) for t in targets]
        if extra is not None:
            res += extra(ev)
        return np.array(res)

    lo, hi = _bounds(free)
    moves = informed(data_residuals, x_start, fd_steps(free, x_start, hi))
    if not moves.all():
        held = {p.name: p.held_value for p, m in zip(free, moves, strict=True) if not m}
        log(f"  held at their uninformed values (no target reads them): {held}")
        x_start = np.where(moves, x_start, _to_x(free, held))

    def full(x_moving: FloatArray) -> FloatArray:
        x = x_start.copy()
        x[moves] = x_moving
        return x

    last: dict[bytes, FloatArray] = {}

    def residuals(x_moving: FloatArray) -> FloatArray:
        stop_if_terminated()  # a stop signal whose SystemExit a finaliser swallowed ends the fit here
        x = full(x_moving)
        res = np.concatenate([data_residuals(x), _prior(free, x)])
        calls[0] += 1
        if calls[0] % 25 == 0:
            log(f"  evaluation {calls[0]}: cost {0.5 * float(np.sum(np.square(res))):.2f}")
        last.clear()
        last[x_moving.tobytes()] = res
        return res

    def jacobian(x_moving: FloatArray) -> FloatArray:
        """Forward differences with :func:`fd_steps` (SciPy calls it right after the
        residuals at the same point, which are reused)."""
        f0 = last.get(x_moving.tobytes())
        f0 = residuals(x_moving) if f0 is None else f0
        steps = fd_steps(free, full(x_moving), hi)[moves]
        return forward_jacobian(residuals, x_moving, f0, steps)

    sol = None
    for j, x0 in enumerate(start_points(free, starts, stage_name, start_values)):
        trial = least_squares(
            residuals, x0[moves], jac=jacobian, bounds=(lo[moves], hi[moves]), method="trf", max_nfev=max_nfev
        )
        if trial.status < 0 or not math.isfinite(trial.cost):
            raise CalibrationError.one(
                "calibration", f"the least-squares refit failed ({trial.message}); nothing was written"
            )
        if starts > 1:
            log(f"  start {j}: cost {trial.cost:.3f}")
        if sol is None or trial.cost < sol.cost:
            sol = trial
    assert sol is not None
    x_best = full(sol.x)
    jac = np.zeros((sol.jac.shape[0], len(free)))
    jac[:, moves] = sol.jac
    return StageFit(
        _from_x(free, x_best), float(sol.cost), parameter_fits(free, x_best, jac, sol.cost), sol.status == 0
    )


def _calibrate_once(
    chosen: Sequence[Target],
    base: ParameterSet,
    n: int,
    max_nfev: int,
    log: Callable[[str], None],
    starts: int = 1,
    start_values: dict[str, float] | None = None,
) -> tuple[ParameterSet, float, dict[str, ParameterFit], list[str]]:
    """Stages 2 and 3 on ``chosen`` from ``base`` (stage 1 already applied), each started at
    ``start_values`` where given, else at the declared starts."""
    symptom = [t for t in chosen if t.family != "adverse"]
    adverse = [t for t in chosen if t.family == "adverse"]
    symptom_fit = [t for t in symptom if t.endpoint != "not_significant" or t.control is not None]
    efficacy, side_effects = stage("efficacy"), stage("adverse")
    cost, fits, notes = 0.0, {}, []
    for name, free, targets, extra in (
        ("efficacy", efficacy, symptom_fit, lambda ev: _sd_residuals(symptom_fit, ev)),
        ("side effects", side_effects, adverse, None),
    ):
        if not targets:
            continue
        log(f"stage {name}: {len(free)} parameters, {len(targets)} targets")
        fit = _fit(
            free, targets, base, n, extra, max_nfev, log, starts=starts, stage_name=name, start_values=start_values
        )
        base = base.replace(fit.values)
        cost += fit.cost
        fits.update(fit.uncertainty)
        if fit.budget_reached:
            notes.append(f"stage {name} stopped at its budget of {max_nfev} evaluations (not at a tolerance)")
    return base, cost, fits, notes


FoldTask = tuple[
    int, tuple[str, ...], tuple[str, ...], tuple[str, ...], dict[str, float], int, int, int, dict[str, float]
]


@dataclass(frozen=True)
class FoldStart:
    """Where one cross-validation refit starts: the values an earlier refit fitted without
    ``sources`` (``data/pd/fold_starts.yaml``, written by ``docs/fold_starts.py``)."""

    sources: tuple[str, ...]
    values: dict[str, float]


@cache
def packaged_fold_starts() -> tuple[FoldStart, ...]:
    """The packaged refits' starts (``data/pd/fold_starts.yaml``), one per fixed fold."""
    data = read_packaged_yaml("pd/fold_starts.yaml")
    names = {p.name for p in declared()}
    out = []
    for fold in data["folds"]:
        unknown = set(fold["values"]) - names
        if unknown:
            raise ValueError(f"data/pd/fold_starts.yaml: not free parameters: {sorted(unknown)}")
        out.append(FoldStart(tuple(fold["sources"]), {k: float(v) for k, v in fold["values"].items()}))
    return tuple(out)


def fold_start_values(index: int, sources: Sequence[str], previous: Sequence[FoldStart]) -> dict[str, float]:
    """The start of refit ``index`` (which holds out ``sources``): the previous refit of the
    same index, if that refit was fitted without every study this one holds out — i.e. none
    of ``sources`` that the previous calibration knew was in its training set — else ``{}``
    (the declared starts).  A full fit's values, the declared starts, were fitted on every
    study, held-out ones included; a previous refit's were not."""
    if not 0 <= index < len(previous):
        return {}
    known = {s for fold in previous for s in fold.sources}
    trained_on = known - set(previous[index].sources)
    if trained_on & set(sources):
        return {}
    fitted = {p.name for p in declared() if p.stage != "glutamate"}  # stage 1 is a root, not a search
    return {k: v for k, v in previous[index].values.items() if k in fitted}


def _fold_task(task: FoldTask) -> FoldFit:
    """Refit without one fold's targets (run in a worker process; the parameter set travels
    as its values, every one of them, over the packaged set)."""
    fold, sources, held_out, fit_ids, values, n, max_nfev, starts, start_values = task
    base = default_parameters().replace({**values, **start_values})
    keep = set(fit_ids)
    chosen = [t for t in load_targets() if t.id in keep]
    fitted, cost, _, _ = _calibrate_once(
        chosen, base, n, max_nfev, lambda m: print(f"fold {fold}: {m}", flush=True), starts, start_values
    )
    values = {p.name: float(f"{fitted[p.name]:.5g}") for p in declared()}
    return FoldFit(fold=fold, sources=sources, held_out=held_out, values=values, objective=round(cost, 4))


def calibrate(
    n: int = 200,
    max_nfev: int = 60,
    log: Callable[[str], None] = print,
    *,
    targets: Sequence[Target] | None = None,
    params: ParameterSet | None = None,
    folds: int = 0,
    jobs: int | None = None,
    starts: int = 1,
    fold_starts: Sequence[FoldStart] | None = None,
) -> Calibration:
    """Run the three stages from the declared starting values (so that a re-run reproduces
    the result) on ``targets`` (default: every addressable packaged target); the fixed values
    come from ``params`` (default: the packaged set).  ``folds`` ≥ 2 adds a k-fold
    cross-validation by study (the refits run in ``jobs`` processes, default one per core).
    ``starts`` > 1 runs each stage from that many points (:func:`start_points`) and keeps the
    lowest cost, in the full fit and in every refit alike.  Each refit starts from
    :func:`fold_start_values` of ``fold_starts`` (default: the packaged ones), never from values
    fitted on the studies it holds out."""
    if isinstance(starts, bool) or not isinstance(starts, int) or not 1 <= starts <= MAX_STARTS:
        raise CalibrationError.one("starts", f"{starts!r} is not allowed: a whole number from 1 to {MAX_STARTS}")
    base = (params or default_parameters()).replace({p.name: p.start for p in declared()})
    chosen = fittable(targets if targets is not None else load_targets())
    fold_sources = assign_folds(chosen, folds) if folds else ()
    log("stage 1: glutamate adaptation (Milak 2016 peak at 26 min)")
    base = base.replace(tau_glutamate_adaptation_min=fit_glutamate_adaptation(base))
    fold_fits: list[FoldFit] = []
    if fold_sources:
        values = {name: base[name] for name in base.names}
        previous = packaged_fold_starts() if fold_starts is None else tuple(fold_starts)
        fold_start = [fold_start_values(i, src, previous) for i, src in enumerate(fold_sources)]
        fresh = [i for i, v in enumerate(fold_start) if not v]
        if fresh:
            log(f"refits {fresh} start from the declared starts (no earlier refit held out their studies)")
        tasks: list[FoldTask] = [
            (
                i,
                src,
                tuple(t.id for t in chosen if source_key(t) in src),
                tuple(t.id for t in chosen if source_key(t) not in src),
                values,
                n,
                max_nfev,
                starts,
                fold_start[i],
            )
            for i, src in enumerate(fold_sources)
        ]
        workers = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
        log(f"cross-validation: {folds} folds of studies, {workers} worker process(es)")
        with _worker_pool(workers) as pool:
            futures = [pool.submit(_fold_task, task) for task in tasks]
            fitted_all, cost, fits, notes = _calibrate_once(chosen, base, n, max_nfev, log, starts)
            fold_fits = []
            for i, future in enumerate(futures):
                try:
                    fold_fits.append(future.result())
                except Exception as err:  # a refit that fails is reported, and nothing is written
                    raise CalibrationError.one("folds", f"the refit without fold {i} failed ({err!r})") from err
    else:
        fitted_all, cost, fits, notes = _calibrate_once(chosen, base, n, max_nfev, log, starts)
    values = {p.name: float(f"{fitted_all[p.name]:.5g}") for p in declared()}
    if fold_sources and len(fresh) < len(fold_sources):
        notes.append(
            "cross-validation refits start from an earlier calibration's refits of the same folds "
            "(data/pd/fold_starts.yaml), never from values fitted on the studies they hold out"
            + (f"; refits {fresh} from the declared starts" if fresh else "")
        )
    return Calibration(
        fit_date=_dt.date.today().isoformat(),
        method=(
            f"scipy least_squares (trf, finite-difference step 5% on the log scale to see through Monte Carlo "
            f"discreteness), residuals (predicted − observed)/tolerance, relative gains (conditions, esketamine, "
            f"age) shrunk toward 1 "
            f"(log-normal prior SD {CONDITION_PRIOR_SD}), n = {n} virtual patients per arm with fixed seeds, "
            f"max {max_nfev} evaluations per stage"
            + (f", {starts} starts per stage (lowest cost kept)" if starts > 1 else "")
            + (f"; {folds}-fold cross-validation by study" if folds else "")
        ),
        values=values,
        targets_used=tuple(t.id for t in chosen),
        objective=round(cost, 4),
        notes=(
            "stage 1: tau_glutamate_adaptation_min from Milak et al. 2016 (peak 26 min into infusion)",
            "stage 2 targets: every addressable non-adverse target, plus reported SDs of change",
            "stage 3 targets: every addressable adverse target",
            *notes,
        ),
        uncertainty={k: v for k, v in fits.items() if k in values},
        cross_validation=tuple(fold_fits),
    )


def write_calibration(cal: Calibration, path: str) -> None:
    """Write atomically (a failed run leaves the old file)."""
    with atomic_path(path) as tmp:
        tmp.write_text(dump_calibration(cal), encoding="utf-8")
