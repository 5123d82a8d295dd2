"""Re-run each published target's design through the model: observed vs predicted.

Each arm is a seeded virtual population (default 400 patients).  The seed comes from the
target's population (condition, scale, baseline), so both arms of a comparison hold the
same patients and identical designs share one simulation.  Drug exposure and the cascade
(phase 1) are cached per design; symptoms and side effects (phase 2) are recomputed at
only the times an endpoint needs — which is what makes the calibration affordable.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.model import CourseResult, Exposure, expose, mood_drive, outcomes
from ketasim.pd._params import calibrated, conditions, scales
from ketasim.pd.cascade import CascadeParameters, spine_stage
from ketasim.pd.symptoms import EfficacyParameters, observe
from ketasim.population import VirtualPopulation, sample_population
from ketasim.regimens import KetamineSessions, PlaceboSessions, course_start_h
from ketasim.trials._targets import Target, TargetArm, load_targets

FloatArray = NDArray[np.float64]
DEFAULT_N = 400
NIMH_ASSESSMENTS_H = (40 / 60, 80 / 60, 110 / 60, 230 / 60, 24.0, 48.0, 72.0, 168.0, 240.0, 336.0)
ADVERSE_WINDOW_H = 8.0
STEP_H = 5.0 / 60.0
SPINE_KEYS = frozenset({"spine_stable_fraction", "tau_spine_stable_days", "tau_mood_onset_h"})


@dataclass(frozen=True)
class TargetResult:
    """One row of the validation report."""

    target: Target
    predicted: float | None
    passed: bool
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        """The ``ketasim validate`` JSON row."""
        t = self.target
        row: dict[str, Any] = {
            "id": t.id,
            "source": t.source,
            "endpoint": f"{t.endpoint}: {t.description}",
            "observed": t.observed,
            "predicted": None if self.predicted is None or not math.isfinite(self.predicted) else self.predicted,
            "tolerance": t.tolerance,
            "pass": self.passed,
        }
        if t.ci is not None and t.tolerance == 0:
            row["ci95"] = list(t.ci)
        if self.reason:
            row["reason"] = self.reason
        row["family"] = t.family
        return row


def start_h(arm: TargetArm) -> float:
    """Time zero of a design: the first clinic session, else the antidepressant's start."""
    return course_start_h(arm.treatment)


def _scale(target: Target) -> str:
    return target.scale if target.scale in scales() else conditions()[target.condition].default_scale


def _baseline(target: Target) -> float:
    if target.baseline is not None:
        return target.baseline
    cond = conditions()[target.condition]
    scale = _scale(target)
    return cond.typical_baseline.get(scale, 0.5 * scales()[scale].max)


def _first_infusion_h(arm: TargetArm) -> float:
    """Duration (h) of the arm's first IV infusion (0 if none)."""
    for item in arm.treatment:
        if isinstance(item, KetamineSessions) and item.route == "iv":
            return (item.duration_min or 40.0) / 60.0
    return 0.0


def _session_windows(arm: TargetArm) -> list[float]:
    times: list[float] = []
    for item in arm.treatment:
        if isinstance(item, KetamineSessions | PlaceboSessions):
            times += [24.0 * d + item.hour_of_day for d in item.days]
    return sorted(times)


@dataclass
class Evaluator:
    """Simulates target designs, caching phase 1 (exposure and cascade) per design."""

    n: int = DEFAULT_N
    overrides: dict[str, float] = field(default_factory=dict)
    _exposures: dict[tuple[str, int, float], Exposure] = field(default_factory=dict)
    _spine_variants: dict[tuple[tuple[str, int, float], float, float, float], Exposure] = field(default_factory=dict)
    _population: dict[int, VirtualPopulation] = field(default_factory=dict)

    def _patients(self, target: Target) -> tuple[int, VirtualPopulation]:
        scale = _scale(target)
        seed = zlib.crc32(f"{target.condition}|{scale}|{_baseline(target):.3f}".encode())
        if seed not in self._population:
            self._population[seed] = sample_population(self.n, seed, target.condition, {scale: _baseline(target)})
        return seed, self._population[seed]

    def run(self, target: Target, arm: TargetArm, times_h: FloatArray) -> CourseResult:
        """The arm's virtual population at ``times_h`` (absolute hours)."""
        scale = _scale(target)
        seed, pop = self._patients(target)
        horizon = float(np.ceil((float(np.max(times_h)) + 1.0) / 24.0) * 24.0)
        key = (arm.model_dump_json(), seed, horizon)
        if key not in self._exposures:
            self._exposures[key] = expose(
                arm.treatment, pop.covariates, horizon, pk_etas=pop.pk_etas, overrides=self.overrides
            )
        exposure = self._with_spines(key)
        efficacy = EfficacyParameters.for_condition(target.condition, self.overrides)
        other = {k: v for k, v in self.overrides.items() if k not in SPINE_KEYS}
        gains = pop.gains(self.overrides)
        result = outcomes(exposure, target.condition, pop.baselines, times_h, gains=gains, overrides=other)
        # what a rater records: visit-to-visit residual variability, reproducible per design and time
        noise_seed = zlib.crc32(np.round(np.asarray(times_h, dtype=np.float64), 6).tobytes()) ^ seed
        observed = observe(result.scales[scale], scale, efficacy.residual_sd, np.random.default_rng(noise_seed))
        return replace(result, scales={scale: observed})

    def _with_spines(self, key: tuple[str, int, float]) -> Exposure:
        """The cached exposure, with spine states recomputed (and cached) for overridden spine parameters."""
        if not SPINE_KEYS & set(self.overrides):
            return self._exposures[key]
        params = CascadeParameters.default(self.overrides)
        tau_mood = self.overrides.get("tau_mood_onset_h", calibrated().values["tau_mood_onset_h"])
        vkey = (key, params.stable_fraction, params.tau_spine_stable_h, tau_mood)
        if vkey not in self._spine_variants:
            if len(self._spine_variants) > 4 * max(1, len(self._exposures)):
                self._spine_variants.clear()
            base = self._exposures[key]
            states = {**base.states, "mood_drive_fast": mood_drive(base.states["ampa"], base.grid_h, self.overrides)}
            spines = spine_stage(base.states["synaptic_proteins"], base.grid_h, params)
            self._spine_variants[vkey] = replace(base, spines=spines, states=states)
        return self._spine_variants[vkey]


def _responded(r: CourseResult, scale: str, i: int | slice) -> NDArray[np.bool_]:
    drop = scales()[scale].response_drop
    base = r.baselines[scale] if isinstance(i, int) else r.baselines[scale][:, None]
    return np.asarray(r.scales[scale][:, i] <= (1 - drop) * base + 1e-9)


def _remitted(r: CourseResult, scale: str, i: int | slice) -> NDArray[np.bool_]:
    return np.asarray(r.scales[scale][:, i] <= scales()[scale].remission_max + 1e-9)


def _odds(p: float) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return p / (1 - p)


def _cohen_d(arm_change: FloatArray, ctrl_change: FloatArray) -> float:
    """Standardised benefit of the arm over control (> 0 when the arm improves more)."""
    pooled = math.sqrt((np.var(arm_change, ddof=1) + np.var(ctrl_change, ddof=1)) / 2.0)
    return float((np.mean(ctrl_change) - np.mean(arm_change)) / pooled) if pooled > 0 else 0.0


def _signed(value: float, observed: float) -> float:
    """Report a benefit with the sign convention of the published value."""
    return value if observed >= 0 else -value


def _adverse_quantity(target: Target) -> str | None:
    text = target.description.lower()
    if "loss of consciousness" in text:
        return None
    for name in ("vertigo", "hypoesthesia"):
        if name in text:
            return name
    if "moaa" in text:
        return "sedation_moaas"
    if "adverse reaction 'dissociation'" in text:
        return "dissociation_reported"
    if target.scale == "CADSS" or "dissociat" in text:
        return "cadss"
    if "blood pressure" in text or target.scale in ("SBP", "DBP"):
        return "bp"
    for name in ("nausea", "vomiting", "dizziness", "sedation"):
        if name in text:
            return name
    return None


def predict(target: Target, ev: Evaluator) -> tuple[float | None, str | None]:
    """The model's value for a target's endpoint (None with a reason when not computable)."""
    if not target.addressable:
        return None, target.reason
    t0 = start_h(target.arm)
    t_eval = t0 + (target.time_h or 0.0)
    e = target.endpoint
    scale = _scale(target)
    text = target.description.lower()

    if target.scale in ("SBP", "DBP", "HR", "CADSS") and e in (
        "mean_change",
        "mean_score",
        "peak_time_h",
        "resolution_time_h",
    ):
        times = np.arange(0.0, ADVERSE_WINDOW_H + 1e-9, STEP_H)
        if "week 14" in text:  # Glue 2018: a session in week 14 of weekly dosing
            sessions = _session_windows(target.arm)
            t_start = sessions[-1] if sessions else t0
        elif target.time_h and target.time_h > ADVERSE_WINDOW_H:
            sessions = [s for s in _session_windows(target.arm) if s <= t_eval]
            t_start = sessions[-1] if sessions else t0
        else:
            t_start = t0
        r = ev.run(target, target.arm, t_start + times)
        key = {"SBP": "sbp_mmhg", "DBP": "dbp_mmhg", "HR": "heart_rate_bpm", "CADSS": "cadss"}[target.scale]
        mean_curve = np.mean(r.adverse[key] - (r.adverse[key][:, [0]] if key != "cadss" else 0.0), axis=0)
        if e in ("mean_change", "mean_score"):
            if target.time_h is not None and target.time_h <= ADVERSE_WINDOW_H and "largest" not in text:
                return float(mean_curve[round(target.time_h / STEP_H)]), None
            return float(np.max(mean_curve)), None
        j = int(np.argmax(mean_curve))
        if e == "peak_time_h":
            return float(times[j]), None
        threshold = 4.0 if key == "cadss" else 0.25 * mean_curve[j]
        after = np.flatnonzero((times > times[j]) & (mean_curve <= threshold))
        if not after.size:
            return None, "not resolved within 8 h"
        # a time stated "post-infusion" counts from the end of the infusion, not its start
        offset = _first_infusion_h(target.arm) if "post-infusion" in text else 0.0
        return float(times[after[0]]) - offset, None

    if e == "incidence":
        quantity = _adverse_quantity(target)
        if quantity is None:
            return None, "no model quantity for this adverse event"
        sessions = _session_windows(target.arm)
        window = np.arange(0.0, 4.0 + 1e-9, STEP_H)
        times = np.unique(np.concatenate([s + window for s in sessions])) if sessions else np.array([t0])
        r = ev.run(target, target.arm, times)
        if quantity == "cadss":
            return float(np.mean(np.max(r.adverse["cadss"], axis=1) > 4.0)), None
        if quantity == "bp":
            sbp0, dbp0 = r.adverse["sbp_mmhg"][:, 0], r.adverse["dbp_mmhg"][:, 0]
            sbp_rise = np.max(r.adverse["sbp_mmhg"], axis=1) - sbp0
            dbp_rise = np.max(r.adverse["dbp_mmhg"], axis=1) - dbp0
            return float(np.mean((sbp_rise >= 40) | (dbp_rise >= 25))), None
        none = np.ones(ev.n)
        for s in r.sessions:
            none = none * (1.0 - s[f"p_{quantity}"])
        return float(np.mean(1.0 - none)), None

    if "any assessment" in text:
        times = np.array([t0 + h for h in NIMH_ASSESSMENTS_H if h <= (target.time_h or 0.0) + 1e-9])
        r = ev.run(target, target.arm, times)
        return float(np.mean(np.any(_responded(r, scale, slice(None)), axis=1))), None
    if e == "sustained_response_rate":
        times = np.arange(t0 + 24.0, t_eval + 1e-9, 24.0)
        r = ev.run(target, target.arm, times)
        return float(np.mean(np.all(_responded(r, scale, slice(None)), axis=1))), None
    if e == "median_days_to_loss_of_response":
        times = t_eval + 24.0 * np.arange(0, 91, dtype=np.float64)
        r = ev.run(target, target.arm, times)
        resp = _responded(r, scale, slice(None))
        responders = resp[:, 0]
        if not np.any(responders):
            return None, "no responders at the end of the course"
        lost = ~resp[responders]
        first = np.where(lost.any(axis=1), lost.argmax(axis=1), 90)
        return float(np.median(first)), None
    if e == "fraction_of_effect":
        if "needed" in text:  # share of eventual remitters/responders first reaching it after week 8
            r = ev.run(target, target.arm, np.array([t0 + 56 * 24.0, t_eval]))
            f = _remitted if "remitter" in text else _responded
            final, early = f(r, scale, 1), f(r, scale, 0)
            return (float(np.mean(~early[final])) if final.any() else None), None
        if target.time_h is not None and target.time_h <= 24.0:  # relative drop at a time point
            r = ev.run(target, target.arm, np.array([t_eval]))
            return float(np.mean(1.0 - r.scales[scale][:, 0] / r.baselines[scale])), None
        times = np.array([t0 + 7 * 24.0, t0 + 42 * 24.0])
        r = ev.run(target, target.arm, times)
        c = ev.run(target, target.control, times) if target.control else None
        diff = np.mean(r.scales[scale] - r.baselines[scale][:, None], axis=0)
        if c is not None:
            diff = diff - np.mean(c.scales[scale] - c.baselines[scale][:, None], axis=0)
        return (float(diff[0] / diff[1]) if diff[1] != 0 else None), None

    times = np.array([t_eval])
    r = ev.run(target, target.arm, times)
    change = r.scales[scale][:, 0] - r.baselines[scale]
    if e == "mean_change":
        return float(np.mean(change)), None
    if e == "mean_score":
        return float(np.mean(r.scales[scale][:, 0])), None
    if e == "response_rate":
        return float(np.mean(_responded(r, scale, 0))), None
    if e == "remission_rate":
        return float(np.mean(_remitted(r, scale, 0))), None
    if e == "effect_size" and target.control is None:  # within-arm: improvement / SD at baseline
        g = float(-np.mean(change) / np.std(r.baselines[scale], ddof=1))
        return _signed(g, target.observed), None
    if target.control is None:
        return None, f"endpoint {e} needs a control arm"
    c = ev.run(target, target.control, times)
    c_change = c.scales[scale][:, 0] - c.baselines[scale]
    if e == "odds_ratio":
        f = _remitted if "remission" in text else _responded
        p_arm, p_ctrl = float(np.mean(f(r, scale, 0))), float(np.mean(f(c, scale, 0)))
        if "risk ratio" in text or "(rr" in text:
            return p_arm / max(p_ctrl, 1e-3), None
        return _odds(p_arm) / _odds(p_ctrl), None
    if e == "effect_size":
        return _signed(_cohen_d(change, c_change), target.observed), None
    if e == "not_significant":
        return _cohen_d(change, c_change), None
    if e == "difference":
        diff = float(np.mean(change) - np.mean(c_change))  # < 0 when the arm improves more
        return (diff if "placebo minus" not in text and "positive = greater" not in text else -diff), None
    return None, f"endpoint {e} not implemented"


def validate(
    n: int = DEFAULT_N, overrides: dict[str, float] | None = None, evaluator: Evaluator | None = None
) -> list[TargetResult]:
    """Every target, in file order; none is dropped."""
    ev = evaluator or Evaluator(n=n, overrides=dict(overrides or {}))
    results = []
    for target in load_targets():
        try:
            predicted, reason = predict(target, ev)
        except (KeyError, ValueError) as err:  # a design the model cannot run is reported, not hidden
            predicted, reason = None, f"cannot simulate: {err}"
        passed = predicted is not None and math.isfinite(predicted) and target.passes(predicted)
        results.append(TargetResult(target, predicted, passed, reason))
    return results


def validation_json(results: list[TargetResult]) -> dict[str, Any]:
    """The ``ketasim validate --format json`` document."""
    rows = [r.as_json() for r in results]
    return {"targets": rows, "passed": sum(bool(r["pass"]) for r in rows), "total": len(rows)}
