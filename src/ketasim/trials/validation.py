"""Re-run each published target's design through the model: observed vs predicted.

Each arm is a seeded virtual population (default 400 patients).  The seed comes from the
target's population (condition, scale, baseline), so both arms of a comparison hold the
same patients and identical designs share one simulation.  Drug exposure and the cascade
(phase 1) are cached per design; symptoms and side effects (phase 2) are recomputed at
only the times an endpoint needs — which is what makes the calibration affordable.

What is compared is read from each target's structured fields (``endpoint``, ``measure``,
``quantity``, ``statistic``, ...; see the header of ``data/targets.yaml``), never from its
free-text description.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray
from pydantic import BaseModel

from ketasim import DISCLAIMER
from ketasim.errors import InputError
from ketasim.model import CourseResult, Exposure, expose, outcomes, with_parameters
from ketasim.model.steady import steady_rises
from ketasim.params import ParameterSet, default_parameters
from ketasim.pd.adverse import AdverseParameters, record_bp, recorded_session_rise
from ketasim.pd.cascade import CascadeParameters
from ketasim.pd.symptoms import EfficacyParameters, observe
from ketasim.pk.checks import PKChecks, pk_checks
from ketasim.population import Demographics, VirtualPopulation, sample_population
from ketasim.regimens import KetamineSessions, PlaceboSessions, course_start_h
from ketasim.trials.targets import (
    BP_INCIDENCES,
    SIDE_EFFECT_SERIES,
    Context,
    SteadyState,
    Target,
    TargetArm,
    load_targets,
)
from ketasim.vocabulary import condition, names, scale

FloatArray = NDArray[np.float64]
DEFAULT_N = 400
MAX_REPLICATE = 10_000
"""Largest replicate number (draws of virtual patients) ``validate`` accepts."""
ADVERSE_WINDOW_H = 8.0
STEP_H = 5.0 / 60.0
INCIDENCE_WINDOW_H = 4.0
CADSS_DISSOCIATION = 4.0
"""Dissociation is CADSS > 4 (Spravato programme's definition; targets 107, 108b)."""
BP_RISE_MMHG = (40.0, 25.0)
"""A rise of SBP ≥ 40 or DBP ≥ 25 mmHg (Spravato label, 'blood pressure increased')."""
FOLLOW_UP_DAYS = 90


class TargetRow(BaseModel):
    """One row of the validation report."""

    id: str
    source: str
    family: str
    endpoint: str
    observed: float
    predicted: float | None
    tolerance: float
    ci95: tuple[float, float] | None = None
    bound: Literal["upper", "lower"] | None = None
    """``observed`` is a bound (the source gives only 'within …'): see ``Target.bound``."""
    passed: bool
    reason: str | None = None
    used_in_calibration: bool

    def observed_text(self) -> str:
        """The published value as read: '≤ 1.5' for an upper bound."""
        return {"upper": "≤ ", "lower": "≥ "}.get(self.bound or "", "") + f"{self.observed:.3g}"


class Tally(BaseModel):
    """Passed of total, overall and per family of targets."""

    passed: int
    total: int
    by_family: dict[str, tuple[int, int]]

    @classmethod
    def of(cls, rows: list[TargetRow]) -> Tally:
        """Count the rows."""
        fams: dict[str, list[int]] = {}
        for r in rows:
            c = fams.setdefault(r.family, [0, 0])
            c[0] += r.passed
            c[1] += 1
        return cls(
            passed=sum(r.passed for r in rows),
            total=len(rows),
            by_family={k: (a, b) for k, (a, b) in sorted(fams.items())},
        )


class CrossValidatedRow(TargetRow):
    """A held-out target, predicted with the values fitted without its fold."""

    fold: int


class CrossValidation(BaseModel):
    """Out-of-sample figures: each fold's targets predicted by the refit without them."""

    folds: int
    sources: int
    passed: int
    total: int
    by_family: dict[str, tuple[int, int]]
    targets: list[CrossValidatedRow]
    not_in_any_fold: list[str]
    """Targets not predicted out of sample: the sources of derived values (``derives``) and
    any added after the cross-validation fits."""


class ValidationReport(BaseModel):
    """The ``ketasim validate`` result: in-sample (``targets``, ``passed``, ``total``, as
    before), cross-validated (the headline) and the PK checks."""

    targets: list[TargetRow]
    passed: int
    total: int
    in_sample: Tally
    cross_validation: CrossValidation | None
    cross_validation_note: str | None = None
    pk: PKChecks | None = None
    n_per_arm: int
    replicate: int = 0
    """Which draw of virtual patients (0: the packaged populations; see :class:`Evaluator`)."""
    parameters: str
    disclaimer: str = DISCLAIMER


@dataclass(frozen=True)
class TargetResult:
    """A target and the model's value for it."""

    target: Target
    predicted: float | None
    passed: bool
    reason: str | None

    def row(self, calibrated_on: frozenset[str] = frozenset()) -> TargetRow:
        """The report row."""
        t = self.target
        finite = self.predicted is not None and math.isfinite(self.predicted)
        return TargetRow(
            id=t.id,
            source=t.source,
            family=t.family,
            endpoint=f"{t.endpoint}: {t.description}",
            observed=t.observed,
            predicted=self.predicted if finite else None,
            tolerance=t.tolerance,
            ci95=t.ci if t.ci is not None and t.tolerance == 0 else None,
            bound=t.bound,
            passed=self.passed,
            reason=self.reason,
            used_in_calibration=t.id in calibrated_on or t.derives is not None,
        )


def start_h(arm: TargetArm) -> float:
    """Time zero of a design: the first clinic session, else the antidepressant's start."""
    return course_start_h(arm.treatment)


def rating_scale(target: Target) -> str:
    """The scale a target's arms are simulated on: its own, else its condition's default."""
    return target.scale if target.scale in names("scales") else condition(target.condition).default_scale


def entry_score(target: Target) -> float:
    """The entry score a target's arms start from: its ``baseline``, else the condition's
    typical score on :func:`rating_scale`."""
    if target.baseline is not None:
        return target.baseline
    return condition(target.condition).typical_baseline_on(rating_scale(target))


def _first_infusion_h(arm: TargetArm) -> float:
    """Duration (h) of the arm's first infusion (0 if none)."""
    for item in arm.treatment:
        if isinstance(item, KetamineSessions) and item.is_infusion:
            return item.doses()[0].duration_h or 0.0
    return 0.0


def _session_times(arm: TargetArm) -> list[float]:
    times: list[float] = []
    for item in arm.treatment:
        if isinstance(item, KetamineSessions | PlaceboSessions):
            times += [24.0 * d + item.hour_of_day for d in item.days]
    return sorted(times)


ExposureKey = tuple[str, int, float, tuple[float, ...]]


@dataclass
class Evaluator:
    """Simulates target designs under a parameter set, caching phase 1 (exposure and
    cascade) per design.  ``max_exposures`` bounds the cache (least recently used first out;
    None: unbounded, for the calibration, which revisits every design at each step)."""

    n: int = DEFAULT_N
    params: ParameterSet = field(default_factory=default_parameters)
    max_exposures: int | None = None
    replicate: int = 0
    """0: each design's packaged population; another number draws new patients (and rating
    noise) for every arm, to measure how far the Monte Carlo draw moves a result."""
    _exposures: OrderedDict[ExposureKey, Exposure] = field(default_factory=OrderedDict)
    _variants: dict[tuple[ExposureKey, CascadeParameters, float, float], Exposure] = field(default_factory=dict)
    _population: dict[int, VirtualPopulation] = field(default_factory=dict)

    def patients(self, target: Target) -> tuple[int, VirtualPopulation]:
        """The seed and virtual population of a target's arms (one per condition, scale, baseline
        and context; a new draw per replicate)."""
        name = rating_scale(target)
        c = target.context
        key = f"{target.condition}|{name}|{entry_score(target):.3f}"
        if c != Context():  # the default context keeps the seeds the targets had before contexts existed
            key += f"|{c.setting}|{c.open_label}|{c.failed_trials}|{c.age_mean}"
            key += f"|{c.age_min}|{c.age_sd}" if c.age_min is not None or c.age_sd is not None else ""
            key += "|lead-in" if c.lead_in else ""
        if self.replicate:
            key += f"|replicate {self.replicate}"
        seed = zlib.crc32(key.encode())
        if seed not in self._population:
            demographics = Demographics(
                failed_trials=c.failed_trials,
                setting=c.setting,
                open_label=c.open_label,
                lead_in=c.lead_in,
                suicidal_ideation_fraction=c.suicidal_ideation_fraction,
                **({"age_mean": c.age_mean, "age_max": max(75.0, c.age_mean + 20.0)} if c.age_mean is not None else {}),
                **({"age_min": c.age_min} if c.age_min is not None else {}),
                **({"age_sd": c.age_sd} if c.age_sd is not None else {}),
            )
            self._population[seed] = sample_population(
                self.n, seed, target.condition, {name: entry_score(target)}, demographics
            )
        return seed, self._population[seed]

    def _exposure(self, key: ExposureKey, arm: TargetArm, pop: VirtualPopulation) -> Exposure:
        if key in self._exposures:
            self._exposures.move_to_end(key)
        else:
            self._exposures[key] = expose(
                arm.treatment, pop.covariates, key[2], params=self.params, pk_etas=pop.pk_etas
            )
            if self.max_exposures is not None and len(self._exposures) > self.max_exposures:
                old, _ = self._exposures.popitem(last=False)
                self._variants = {k: v for k, v in self._variants.items() if k[0] != old}
        base = self._exposures[key]
        tau_tolerance_h = AdverseParameters.from_params(self.params).tau_tolerance_h
        vkey = (
            key,
            CascadeParameters.from_params(self.params),
            self.params["cascade.tau_mood_onset_h"],
            tau_tolerance_h,
        )
        if vkey[1] == base.cascade and vkey[2] == base.tau_mood_h and vkey[3] == base.tau_tolerance_h:
            return base
        if vkey not in self._variants:
            if len(self._variants) > 4 * max(1, len(self._exposures)):
                self._variants.clear()
            self._variants[vkey] = with_parameters(base, self.params)
        return self._variants[vkey]

    def run(self, target: Target, arm: TargetArm, times_h: FloatArray) -> CourseResult:
        """The arm's virtual population at ``times_h`` (absolute hours), scores as a rater
        records them."""
        name = rating_scale(target)
        seed, pop = self.patients(target)
        horizon = float(np.ceil((float(np.max(times_h)) + 1.0) / 24.0) * 24.0)
        upstream = CascadeParameters.from_params(self.params).upstream()
        exposure = self._exposure((arm.model_dump_json(), seed, horizon, upstream), arm, pop)
        efficacy = EfficacyParameters.from_params(self.params, target.condition)
        gains = pop.gains(self.params)
        result = outcomes(exposure, target.condition, pop.baselines, times_h, params=self.params, gains=gains)
        # what a rater records: visit-to-visit residual variability, reproducible per design and time
        noise_seed = zlib.crc32(np.round(np.asarray(times_h, dtype=np.float64), 6).tobytes()) ^ seed
        recorded = observe(result.scales[name], name, efficacy.residual_sd, np.random.default_rng(noise_seed))
        return replace(result, scales={name: recorded})


def _responded(r: CourseResult, name: str) -> NDArray[np.bool_]:
    return scale(name).responded(r.scales[name], r.baselines[name][:, None])


def _measure(target: Target) -> Callable[[CourseResult, str], NDArray[np.bool_]]:
    """Who meets the target's measure: a response, or remission by the trial's own cut-off."""
    if target.measure == "response":
        return _responded
    return lambda r, name: scale(name).remitted(r.scales[name], target.score_at_most)


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


Prediction = tuple[float | None, str | None]


def _side_effect_course(target: Target, ev: Evaluator) -> Prediction:
    """A blood-pressure, heart-rate or CADSS time course after one session: its value at
    ``time_h`` or peak, the time of the peak, or the time it resolves."""
    t0 = start_h(target.arm)
    times = np.arange(0.0, ADVERSE_WINDOW_H + 1e-9, STEP_H)
    sessions = _session_times(target.arm)
    if target.session == "last":
        t_start = sessions[-1] if sessions else t0
    elif target.time_h and target.time_h > ADVERSE_WINDOW_H:
        before = [s for s in sessions if s <= t0 + target.time_h]
        t_start = before[-1] if before else t0
    else:
        t_start = t0
    key = {"SBP": "sbp_mmhg", "DBP": "dbp_mmhg", "HR": "heart_rate_bpm", "CADSS": "cadss"}[target.scale]
    if target.statistic in ("largest_session_mean_peak", "average_session_mean_peak"):
        (rises,) = _session_rises(target, ev, key)
        session_means = np.mean(rises, axis=0)
        over = np.max if target.statistic == "largest_session_mean_peak" else np.mean
        return float(over(session_means)), None
    if target.statistic in ("patient_peak", "patient_peak_sd"):
        peaks = _patient_peaks(target, ev, key, t_start)
        return float(np.mean(peaks) if target.statistic == "patient_peak" else np.std(peaks, ddof=1)), None
    r = ev.run(target, target.arm, t_start + times)
    curves = r.adverse[key] - (r.adverse[key][:, [0]] if key != "cadss" else 0.0)
    mean_curve = np.mean(curves, axis=0)
    if target.endpoint in ("mean_change", "mean_score"):
        at_time = target.statistic == "at_time" and target.time_h is not None and target.time_h <= ADVERSE_WINDOW_H
        if at_time and target.time_h is not None:
            return float(mean_curve[round(target.time_h / STEP_H)]), None
        return float(np.max(mean_curve)), None
    j = int(np.argmax(mean_curve))
    if target.endpoint == "peak_time_h":
        return float(times[j]), None
    threshold = CADSS_DISSOCIATION if key == "cadss" else 0.25 * mean_curve[j]
    after = np.flatnonzero((times > times[j]) & (mean_curve <= threshold))
    if not after.size:
        return None, "not resolved within 8 h"
    offset = _first_infusion_h(target.arm) if target.time_from == "infusion_end" else 0.0
    return float(times[after[0]]) - offset, None


_PRESSURE: dict[str, Literal["SBP", "DBP"]] = {"sbp_mmhg": "SBP", "dbp_mmhg": "DBP"}


def _readings(target: Target, values: FloatArray, key: str, ev: Evaluator) -> FloatArray:
    """Recorded BP of series ``key`` (``sbp_mmhg`` or ``dbp_mmhg``; :func:`~ketasim.pd.adverse.record_bp`),
    the same draws for a target at every parameter set (common random numbers for the calibration)."""
    rng = np.random.default_rng(zlib.crc32(f"bp-readings:{target.id}".encode()))
    return record_bp(values, _PRESSURE[key], AdverseParameters.from_params(ev.params), rng)


def _patient_peaks(target: Target, ev: Evaluator, key: str, t_start: float) -> FloatArray:
    """Each patient's largest rise at the assessments after the first (the pre-dose reading);
    BP as recorded, other series as modelled."""
    assert target.assessed_at_h is not None or key not in _PRESSURE
    at = np.asarray(target.assessed_at_h or np.arange(0.0, ADVERSE_WINDOW_H + 1e-9, STEP_H))
    values = ev.run(target, target.arm, t_start + at).adverse[key]
    if key in _PRESSURE:
        values = _readings(target, values, key, ev)
    peaks: FloatArray = np.max(values[:, 1:], axis=1) - values[:, 0]
    return peaks


def _session_rises(target: Target, ev: Evaluator, *keys: str) -> list[FloatArray]:
    """For each series in ``keys``, each patient's largest recorded rise at each of the arm's
    sessions (P, S): the highest reading after the first at ``assessed_at_h``, against that
    session's pre-dose reading (one run for all keys)."""
    assert target.assessed_at_h is not None  # checked when the target is loaded
    at = np.asarray(target.assessed_at_h)
    starts = _session_times(target.arm) or [start_h(target.arm)]
    r = ev.run(target, target.arm, np.concatenate([s + at for s in starts]))
    rises = []
    for key in keys:
        readings = _readings(target, r.adverse[key], key, ev).reshape(ev.n, len(starts), at.size)
        rises.append(recorded_session_rise(readings))
    return rises


def _incidence(target: Target, ev: Evaluator) -> Prediction:
    """The fraction of patients with an event at least once over the arm's sessions."""
    quantity = target.quantity
    if quantity is None:
        return None, "no model quantity for this adverse event"
    sessions = _session_times(target.arm)
    t0 = start_h(target.arm)
    if quantity in BP_INCIDENCES:
        sbp_rise, dbp_rise = (np.max(rises, axis=1) for rises in _session_rises(target, ev, "sbp_mmhg", "dbp_mmhg"))
        sbp_hit, dbp_hit = sbp_rise >= BP_RISE_MMHG[0], dbp_rise >= BP_RISE_MMHG[1]
        hit = {"bp_rise_40_25": sbp_hit | dbp_hit, "sbp_rise_40": sbp_hit, "dbp_rise_25": dbp_hit}[quantity]
        return float(np.mean(hit)), None
    window = np.arange(0.0, INCIDENCE_WINDOW_H + 1e-9, STEP_H)
    times = np.unique(np.concatenate([s + window for s in sessions])) if sessions else np.array([t0])
    r = ev.run(target, target.arm, times)
    if quantity == "cadss_above_4":
        return float(np.mean(np.max(r.adverse["cadss"], axis=1) > CADSS_DISSOCIATION)), None
    none = np.ones(ev.n)
    for s in r.sessions:
        none = none * (1.0 - s.event_probability[quantity])
    return float(np.mean(1.0 - none)), None


def _fraction(target: Target, ev: Evaluator) -> Prediction:
    name = rating_scale(target)
    t0 = start_h(target.arm)
    t_eval = t0 + (target.time_h or 0.0)
    if target.fraction == "late_share":  # share of eventual responders first reaching it late
        assert target.late_after_h is not None
        r = ev.run(target, target.arm, np.array([t0 + target.late_after_h, t_eval]))
        reached = _measure(target)(r, name)
        final, early = reached[:, 1], reached[:, 0]
        return (float(np.mean(~early[final])) if final.any() else None), None
    if target.fraction == "relative_drop":
        r = ev.run(target, target.arm, np.array([t_eval]))
        return float(np.mean(1.0 - r.scales[name][:, 0] / r.baselines[name])), None
    assert target.reference_time_h is not None
    times = np.array([t_eval, t0 + target.reference_time_h])
    r = ev.run(target, target.arm, times)
    diff = np.mean(r.scales[name] - r.baselines[name][:, None], axis=0)
    if target.control is not None:
        c = ev.run(target, target.control, times)
        diff = diff - np.mean(c.scales[name] - c.baselines[name][:, None], axis=0)
    return (float(diff[0] / diff[1]) if diff[1] != 0 else None), None


def _median_days_to_loss(target: Target, ev: Evaluator, name: str, t_end: float) -> Prediction:
    """Median day (from the end of the course) of the first of ``loss_confirmed_by``
    consecutive follow-up ratings without response, among the patients responding at the
    end; a patient who never loses response within FOLLOW_UP_DAYS counts as that day."""
    days = np.arange(0.0, FOLLOW_UP_DAYS + 1e-9, target.follow_up_every_days)
    r = ev.run(target, target.arm, t_end + 24.0 * days)
    resp = _responded(r, name)
    responders = resp[:, 0]
    if not np.any(responders):
        return None, "no responders at the end of the course"
    lost = ~resp[responders]
    confirmed: NDArray[np.bool_] = np.all(sliding_window_view(lost, target.loss_confirmed_by, axis=1), axis=2)
    first = np.where(confirmed.any(axis=1), days[confirmed.argmax(axis=1)], float(FOLLOW_UP_DAYS))
    return float(np.median(first)), None


def _median_days_to_improvement(target: Target, ev: Evaluator, name: str, t0: float) -> Prediction:
    """Median day (from the start) of the first assessment (``assessed_at_h``) at which a
    patient's score has dropped by ``improvement_points`` from the entry rating; a patient
    who never does is censored after the last assessment."""
    assert target.assessed_at_h is not None and target.improvement_points is not None
    after_h = np.asarray(target.assessed_at_h, dtype=np.float64)
    r = ev.run(target, target.arm, t0 + after_h)
    improved = r.scales[name] <= r.baselines[name][:, None] - target.improvement_points
    first = np.where(improved.any(axis=1), after_h[improved.argmax(axis=1)] / 24.0, np.inf)
    median = float(np.median(first))
    if not math.isfinite(median):
        return None, "fewer than half of the patients improve by the last assessment"
    return median, None


def _steady_rise(target: Target, ev: Evaluator, steady: SteadyState) -> Prediction:
    """The mean rise of SBP, DBP, MAP or HR over the arm's patients at a steady plasma
    concentration (:func:`~ketasim.model.steady.steady_rises`)."""
    _, pop = ev.patients(target)
    rises = steady_rises(steady.drug, steady.plasma_ng_ml, ev.params, pop.gains(ev.params))
    key = {"SBP": "sbp_rise_mmhg", "DBP": "dbp_rise_mmhg", "MAP": "map_rise_mmhg", "HR": "hr_rise_bpm"}[target.scale]
    return float(np.mean(rises[key])), None


def predict(target: Target, ev: Evaluator) -> Prediction:
    """The model's value for a target's endpoint (None with a reason when not computable)."""
    if not target.addressable:
        return None, target.reason
    e = target.endpoint
    if target.steady_state is not None:
        return _steady_rise(target, ev, target.steady_state)
    if target.scale in SIDE_EFFECT_SERIES and e in ("mean_change", "mean_score", "peak_time_h", "resolution_time_h"):
        return _side_effect_course(target, ev)
    if e == "incidence":
        return _incidence(target, ev)
    if e == "fraction_of_effect":
        return _fraction(target, ev)
    name = rating_scale(target)
    t0 = start_h(target.arm)
    t_eval = t0 + (target.time_h or 0.0)
    if e == "median_days_to_improvement":
        return _median_days_to_improvement(target, ev, name, t0)
    if target.assessed_at_h is not None:  # response at (at least assessments_needed of) the listed assessments
        times = t0 + np.array(target.assessments_by_time_h)
        r = ev.run(target, target.arm, times)
        met = np.sum(_measure(target)(r, name), axis=1) >= target.assessments_needed
        return float(np.mean(met)), None
    if e == "sustained_response_rate":
        r = ev.run(target, target.arm, np.arange(t0 + 24.0, t_eval + 1e-9, 24.0))
        return float(np.mean(np.all(_responded(r, name), axis=1))), None
    if e == "median_days_to_loss_of_response":
        return _median_days_to_loss(target, ev, name, t_eval)

    times = np.array([t_eval])
    r = ev.run(target, target.arm, times)
    change = r.scales[name][:, 0] - r.baselines[name]
    if e == "mean_change":
        return float(np.mean(change)), None
    if e == "mean_score":
        return float(np.mean(r.scales[name][:, 0])), None
    if e == "response_rate":
        return float(np.mean(_responded(r, name)[:, 0])), None
    if e == "remission_rate":
        return float(np.mean(_measure(target)(r, name)[:, 0])), None
    if e == "effect_size" and target.control is None:  # within-arm: improvement / SD at baseline
        g = float(-np.mean(change) / np.std(r.baselines[name], ddof=1))
        return _signed(g, target.observed), None
    if target.control is None:
        return None, f"endpoint {e} needs a control arm"
    if e in ("effect_size", "difference"):
        value = 0.0
        for share, arm in pooled_controls(target):
            c = ev.run(target, arm, times)
            c_change = c.scales[name][:, 0] - c.baselines[name]
            if e == "effect_size":
                value += share * _signed(_cohen_d(change, c_change), target.observed)
            else:
                diff = float(np.mean(change) - np.mean(c_change))  # < 0 when the arm improves more
                value += share * (diff if target.difference == "arm_minus_control" else -diff)
        return value, None
    c = ev.run(target, target.control, times)
    c_change = c.scales[name][:, 0] - c.baselines[name]
    if e == "odds_ratio":
        measure = _measure(target)
        p_arm, p_ctrl = float(np.mean(measure(r, name)[:, 0])), float(np.mean(measure(c, name)[:, 0]))
        if target.ratio == "risk":
            return p_arm / max(p_ctrl, 1e-3), None
        return _odds(p_arm) / _odds(p_ctrl), None
    if e == "not_significant":
        return _cohen_d(change, c_change), None
    return None, f"endpoint {e} not implemented"


def pooled_controls(target: Target) -> list[tuple[float, TargetArm]]:
    """(share of control patients, control arm) behind a between-arm effect: the target's
    control alone, or — for a meta-analysis pooling inert and active placebos
    (``active_control_share`` s) — the control with weight 1 − s and the same control with
    midazolam in place of its placebo with weight s (pooled estimates weight trials about by
    size)."""
    assert target.control is not None
    s = target.active_control_share
    if not s:
        return [(1.0, target.control)]
    active = tuple(
        i.model_copy(update={"placebo": "midazolam"}) if isinstance(i, PlaceboSessions) else i
        for i in target.control.treatment
    )
    return [(1.0 - s, target.control), (s, target.control.model_copy(update={"treatment": active}))]


def evaluate(
    targets: tuple[Target, ...], ev: Evaluator, progress: Callable[[int], None] | None = None
) -> list[TargetResult]:
    """Each target's prediction and verdict, in order; none is dropped.  ``progress`` is
    told how many targets are done."""
    results = []
    for i, target in enumerate(targets):
        if progress is not None:
            progress(i)
        try:
            predicted, reason = predict(target, ev)
        except (KeyError, ValueError) as err:  # a design the model cannot run is reported, not hidden
            predicted, reason = None, f"cannot simulate: {err}"
        passed = predicted is not None and math.isfinite(predicted) and target.passes(predicted)
        results.append(TargetResult(target, predicted, passed, reason))
    return results


def _offset(progress: Callable[[int], None], start: int, done: int) -> None:
    progress(start + done)


def cross_validate(
    params: ParameterSet,
    n: int = DEFAULT_N,
    *,
    max_exposures: int | None = 2,
    progress: Callable[[int], None] | None = None,
    families: frozenset[str] | None = None,
    replicate: int = 0,
) -> CrossValidation | None:
    """Each fold's held-out targets under the values fitted without them (None when the
    parameter file holds no cross-validation fits)."""
    folds = params.calibration.cross_validation
    if not folds:
        return None
    known = {t.id: t for t in load_targets() if families is None or t.family in families}
    rows: list[CrossValidatedRow] = []
    for fold in folds:
        held = tuple(known[i] for i in fold.held_out if i in known)
        ev = Evaluator(n=n, params=params.replace(fold.values), max_exposures=max_exposures, replicate=replicate)
        tick = None if progress is None else functools.partial(_offset, progress, len(rows))
        for r in evaluate(held, ev, tick):
            rows.append(CrossValidatedRow(**r.row().model_dump(), fold=fold.fold))
    held_ids = {i for f in folds for i in f.held_out}
    tally = Tally.of(list(rows))
    return CrossValidation(
        folds=len(folds),
        sources=sum(len(f.sources) for f in folds),
        passed=tally.passed,
        total=tally.total,
        by_family=tally.by_family,
        targets=rows,
        not_in_any_fold=[t.id for t in known.values() if t.addressable and t.id not in held_ids],
    )


def validate(
    n: int = DEFAULT_N,
    params: ParameterSet | None = None,
    *,
    max_exposures: int | None = 2,
    cross_validated: bool = True,
    pk: bool = True,
    families: frozenset[str] | None = None,
    replicate: int = 0,
) -> ValidationReport:
    """Every packaged target (of ``families``, default all), in file order, under ``params``
    (default: the packaged set); then each held-out fold under its refit, and the PK checks.
    ``replicate`` (≥ 0) picks the draw of virtual patients (0: the packaged one)."""
    if isinstance(replicate, bool) or not isinstance(replicate, int) or not 0 <= replicate <= MAX_REPLICATE:
        raise InputError.one("replicate", f"{replicate!r} is not allowed; a whole number from 0 to {MAX_REPLICATE}")
    p = params or default_parameters()
    targets = tuple(t for t in load_targets() if families is None or t.family in families)
    results = evaluate(targets, Evaluator(n=n, params=p, max_exposures=max_exposures, replicate=replicate))
    cv = (
        cross_validate(p, n, max_exposures=max_exposures, families=families, replicate=replicate)
        if cross_validated
        else None
    )
    return report(results, n, p, cv, pk_checks() if pk else None, replicate)


def report(
    results: list[TargetResult],
    n: int,
    params: ParameterSet,
    cv: CrossValidation | None = None,
    pk: PKChecks | None = None,
    replicate: int = 0,
) -> ValidationReport:
    """The validation report of evaluated targets."""
    used = frozenset(params.calibration.targets_used)
    rows = [r.row(used) for r in results]
    note = None
    if cv is None:
        note = (
            "no cross-validation: the parameter file holds no fold fits "
            "(run `ketasim calibrate --folds 5 --out FILE` and pass --params FILE)"
            if not params.calibration.cross_validation
            else "cross-validation not requested"
        )
    return ValidationReport(
        targets=rows,
        passed=sum(r.passed for r in rows),
        total=len(rows),
        in_sample=Tally.of(rows),
        cross_validation=cv,
        cross_validation_note=note,
        pk=pk,
        n_per_arm=n,
        replicate=replicate,
        parameters=f"{params.origin} (digest {params.digest})",
    )
