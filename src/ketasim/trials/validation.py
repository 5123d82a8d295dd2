"""Re-run each published target's design through the model: observed vs predicted.

Each arm is a virtual population (default 400 patients, seeded by the target id, the same
patients in both arms), simulated with :func:`ketasim.model.simulate_course`; the
endpoint is computed the way the paper defines it.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.model import CourseResult, simulate_course
from ketasim.pd._params import conditions, scales
from ketasim.pd.symptoms import EfficacyParameters, PatientGains
from ketasim.pk import load_model, sample_etas
from ketasim.population import Seeds, sample_baselines, sample_covariates
from ketasim.regimens import KetamineSessions, OralAntidepressant, PlaceboSessions
from ketasim.trials._targets import Target, TargetArm, load_targets

FloatArray = NDArray[np.float64]
DEFAULT_N = 400


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
            "predicted": None
            if self.predicted is None or not math.isfinite(self.predicted)
            else self.predicted,
            "tolerance": t.tolerance,
            "pass": self.passed,
        }
        if t.ci is not None and t.tolerance == 0:
            row["ci95"] = list(t.ci)
        if self.reason:
            row["reason"] = self.reason
        row["family"] = t.family
        return row


def _seed(target_id: str) -> int:
    return zlib.crc32(target_id.encode("utf-8"))


def _start_h(arm: TargetArm) -> float:
    """Time zero of a design: the first clinic session, else the antidepressant's start."""
    sessions = [
        24.0 * item.days[0] + item.hour_of_day
        for item in arm.treatment
        if isinstance(item, KetamineSessions | PlaceboSessions)
    ]
    if sessions:
        return min(sessions)
    starts = [24.0 * item.start_day for item in arm.treatment if isinstance(item, OralAntidepressant)]
    return min(starts) if starts else 0.0


def _baseline(target: Target) -> float:
    if target.baseline is not None:
        return target.baseline
    cond = conditions()[target.condition]
    scale = target.scale if target.scale in scales() else cond.default_scale
    return cond.typical_baseline.get(scale, 0.5 * scales()[scale].max)


def simulate_arm(
    target: Target, arm: TargetArm, n: int, horizon_h: float, overrides: dict[str, float] | None = None
) -> CourseResult:
    """A seeded virtual population of ``n`` patients through ``arm``'s treatment."""
    seeds = Seeds.from_seed(_seed(target.id))
    cov = sample_covariates(n, seeds.covariates)
    scale = target.scale if target.scale in scales() else conditions()[target.condition].default_scale
    baselines = sample_baselines(n, {scale: _baseline(target)}, seeds.baselines)
    efficacy = EfficacyParameters.for_condition(target.condition, overrides)
    gains = PatientGains.sample(n, efficacy, seeds.gains)
    pk_etas = {drug: sample_etas(load_model(drug).spec, n, seeds.pk) for drug in ("esketamine",)}
    return simulate_course(
        arm.treatment,
        cov,
        target.condition,
        baselines,
        horizon_h,
        output_times_h=np.arange(0.0, horizon_h + 1e-9, 0.25),
        pk_etas=pk_etas,
        gains=gains,
        overrides=overrides,
    )


def _at(result: CourseResult, t_h: float) -> int:
    return int(np.argmin(np.abs(result.times_h - t_h)))


def _score_scale(target: Target, result: CourseResult) -> str:
    return next(iter(result.scales))


def _change(result: CourseResult, scale: str, i: int) -> FloatArray:
    return result.scales[scale][:, i] - result.baselines[scale]


def _responded(result: CourseResult, scale: str, i: int) -> NDArray[np.bool_]:
    drop = scales()[scale].response_drop
    return np.asarray(result.scales[scale][:, i] <= (1 - drop) * result.baselines[scale] + 1e-9)


def _remitted(result: CourseResult, scale: str, i: int) -> NDArray[np.bool_]:
    return np.asarray(result.scales[scale][:, i] <= scales()[scale].remission_max + 1e-9)


def _odds(p: float) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return p / (1 - p)


def _cohen_d(a: FloatArray, b: FloatArray) -> float:
    pooled = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2.0)
    return float((np.mean(b) - np.mean(a)) / pooled) if pooled > 0 else 0.0


def _adverse_incidence(target: Target, result: CourseResult) -> float | None:
    text = target.description.lower()
    sessions = [s for s in result.sessions if s["kind"] in ("ketamine", "esketamine", "saline", "midazolam")]
    if target.scale == "CADSS" or "dissociat" in text:
        per_patient = np.zeros(result.adverse["cadss"].shape[0], dtype=bool)
        for s in sessions:
            window = (result.times_h >= s["time_h"]) & (result.times_h <= s["time_h"] + 4)
            per_patient |= np.max(result.adverse["cadss"][:, window], axis=1) > 4.0
        return float(np.mean(per_patient))
    if "blood pressure" in text or "bp" in text.split() or target.scale in ("SBP", "DBP"):
        sbp0 = result.adverse["sbp_mmhg"][:, 0]
        dbp0 = result.adverse["dbp_mmhg"][:, 0]
        high = (np.max(result.adverse["sbp_mmhg"], axis=1) - sbp0 >= 40) | (
            np.max(result.adverse["dbp_mmhg"], axis=1) - dbp0 >= 25
        )
        return float(np.mean(high))
    for name in ("nausea", "vomiting", "dizziness", "sedation"):
        if name in text or (name == "sedation" and "moaa" in text):
            none = np.ones_like(sessions[0][f"p_{name}"]) if sessions else np.ones(1)
            for s in sessions:
                none = none * (1.0 - s[f"p_{name}"])
            return float(np.mean(1.0 - none))
    return None


def predict(
    target: Target, n: int = DEFAULT_N, overrides: dict[str, float] | None = None
) -> tuple[float | None, str | None]:
    """The model's value for a target's endpoint (None with a reason when not computable)."""
    if not target.addressable:
        return None, target.reason
    t0 = _start_h(target.arm)
    t_eval = t0 + (target.time_h or 0.0)
    horizon = t_eval + 24.0 * (60 if target.endpoint == "median_days_to_loss_of_response" else 2)
    arm = simulate_arm(target, target.arm, n, horizon, overrides)
    ctrl = simulate_arm(target, target.control, n, horizon, overrides) if target.control else None
    scale = _score_scale(target, arm)
    i = _at(arm, t_eval)
    e = target.endpoint
    if target.scale in ("SBP", "DBP", "HR", "CADSS") and e in (
        "mean_change",
        "mean_score",
        "peak_time_h",
        "resolution_time_h",
    ):
        key = {"SBP": "sbp_mmhg", "DBP": "dbp_mmhg", "HR": "heart_rate_bpm", "CADSS": "cadss"}[target.scale]
        series = arm.adverse[key]
        window = (arm.times_h >= t0) & (arm.times_h <= t0 + 8.0)
        rise = series[:, window] - series[:, [0]]
        mean_rise = np.mean(rise, axis=0)
        if e in ("mean_change", "mean_score"):
            return float(
                np.max(mean_rise) if key != "cadss" else np.max(np.mean(series[:, window], axis=0))
            ), None
        t_win = arm.times_h[window] - t0
        j = int(np.argmax(mean_rise))
        if e == "peak_time_h":
            return float(t_win[j]), None
        after = np.flatnonzero((t_win > t_win[j]) & (mean_rise <= 0.1 * mean_rise[j]))
        return (float(t_win[after[0]]) if after.size else float("nan")), None
    if e == "incidence":
        value = _adverse_incidence(target, arm)
        return (value, None) if value is not None else (None, "no model quantity for this adverse event")
    if e == "mean_change":
        return float(np.mean(_change(arm, scale, i))), None
    if e == "mean_score":
        return float(np.mean(arm.scales[scale][:, i])), None
    if e == "response_rate":
        return float(np.mean(_responded(arm, scale, i))), None
    if e == "remission_rate":
        return float(np.mean(_remitted(arm, scale, i))), None
    if e == "sustained_response_rate":
        first = _at(arm, t0 + 24.0)
        kept = np.all([_responded(arm, scale, k) for k in range(first, i + 1, 4)], axis=0)
        return float(np.mean(kept)), None
    if e == "median_days_to_loss_of_response":
        resp = _responded(arm, scale, i)
        if not np.any(resp):
            return None, "no responders at the end of the course"
        days = []
        for p in np.flatnonzero(resp):
            lost = np.flatnonzero(
                ~np.array([_responded(arm, scale, k)[p] for k in range(i, arm.times_h.size)])
            )
            days.append((arm.times_h[i + lost[0]] - arm.times_h[i]) / 24.0 if lost.size else 60.0)
        return float(np.median(days)), None
    if e == "fraction_of_effect":
        week1 = _at(arm, t0 + 7 * 24.0)
        week6 = _at(arm, t0 + 42 * 24.0) if arm.times_h[-1] >= t0 + 42 * 24 else arm.times_h.size - 1
        a = np.mean(_change(arm, scale, week1)) - (np.mean(_change(ctrl, scale, week1)) if ctrl else 0.0)
        b = np.mean(_change(arm, scale, week6)) - (np.mean(_change(ctrl, scale, week6)) if ctrl else 0.0)
        return (float(a / b) if b != 0 else float("nan")), None
    if e == "effect_size" and ctrl is None:  # within-arm: mean improvement / SD at baseline
        change = _change(arm, scale, i)
        g = float(-np.mean(change) / np.std(arm.baselines[scale], ddof=1))
        return (g if target.observed >= 0 else -g), None
    assert ctrl is not None
    if e == "odds_ratio":
        use_remission = "remission" in target.description.lower()
        f = _remitted if use_remission else _responded
        return _odds(float(np.mean(f(arm, scale, i)))) / _odds(float(np.mean(f(ctrl, scale, i)))), None
    if e in ("effect_size", "not_significant"):
        d = _cohen_d(_change(arm, scale, i), _change(ctrl, scale, i))  # > 0: arm improves more
        return (d if target.observed >= 0 else -d) if e == "effect_size" else d, None
    if e == "difference":
        return float(np.mean(_change(arm, scale, i)) - np.mean(_change(ctrl, scale, i))), None
    return None, f"endpoint {e} not implemented"


def validate(n: int = DEFAULT_N, overrides: dict[str, float] | None = None) -> list[TargetResult]:
    """Every target, in file order; none is dropped."""
    results = []
    for target in load_targets():
        try:
            predicted, reason = predict(target, n, overrides)
        except (KeyError, ValueError) as err:  # a design the model cannot run is reported, not hidden
            predicted, reason = None, f"cannot simulate: {err}"
        passed = predicted is not None and math.isfinite(predicted) and target.passes(predicted)
        results.append(TargetResult(target, predicted, passed, reason))
    return results


def validation_json(results: list[TargetResult]) -> dict[str, Any]:
    """The ``ketasim validate --format json`` document."""
    rows = [r.as_json() for r in results]
    return {"targets": rows, "passed": sum(r["pass"] for r in rows), "total": len(rows)}
