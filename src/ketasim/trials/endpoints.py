"""Trial endpoints from per-patient results: per arm with 95% CIs, arm vs control, and
power over replicate trials.

Missing scores after dropout are carried forward from the last assessment (LOCF, the
analysis of Singh 2016 and SYNAPSE) for mean change, response, remission, sustained
response and effect sizes; time-to-event endpoints censor a patient at the last assessment
attended; the MMRM and "response at any time" use the observed scores only.  In a
randomised-withdrawal design, relapse endpoints concern the randomised cohort (those who met
the selection criterion), with time counted from randomisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from ketasim import DISCLAIMER
from ketasim.regimens import session_times_h
from ketasim.trials.design import (
    AdverseEvent,
    AeDiscontinuation,
    EffectSize,
    Endpoint,
    HazardRatio,
    MeanChange,
    MmrmDifference,
    Proportion,
    Relapse,
    RelapseFraction,
    ResponseAnyTime,
    SessionsTo,
    SustainedResponse,
    TimeToResponse,
    TrialDesign,
    VitalSign,
    endpoint_name,
)
from ketasim.trials.effects import cox_hazard_ratio, hedges_g, mmrm, standardised_change
from ketasim.trials.run import DROPOUT_REASONS, ChunkResult
from ketasim.trials.statistics import (
    Comparison,
    Estimate,
    KaplanMeier,
    OverSessions,
    compare_means,
    compare_medians,
    compare_proportions,
    compare_session_statistics,
    kaplan_meier,
    mean_ci,
    session_statistic,
    wilson,
)
from ketasim.vocabulary import scale

Number = float | None


class EstimateReport(BaseModel):
    """A value with its 95% confidence interval (None where it cannot be estimated)."""

    value: Number
    ci95: tuple[Number, Number]


class Curve(BaseModel):
    """A Kaplan–Meier curve with its 95% log–log band, on the assessment days."""

    days: list[float]
    survival: list[float]
    lower: list[float]
    upper: list[float]


class ArmEndpoint(EstimateReport):
    """One endpoint in one arm; ``sd`` for mean change, ``curve`` for time-to-event endpoints
    (days, or sessions for sessions-to endpoints), ``among`` for relapse (the patients
    followed), ``statistic`` what ``value`` is where the name does not say."""

    sd: Number = None
    curve: Curve | None = None
    among: int | None = None
    statistic: str | None = None


class Trajectory(BaseModel):
    """Mean (SD) score per assessment day, last observation carried forward."""

    days: list[float]
    mean: list[Number]
    sd: list[Number]


class ArmSummary(BaseModel):
    """One arm of the first replicate: patients, why they left (counts by reason)."""

    n: int
    dropout: dict[str, int]
    endpoints: dict[str, ArmEndpoint]
    trajectory: Trajectory


class ComparisonReport(BaseModel):
    """Arm vs control for one endpoint: a difference (arm − control), or the ratio or
    standardised difference ``statistic`` names; ``cohens_d`` with an effect size."""

    difference: Number
    ci95: tuple[Number, Number]
    p_value: Number
    statistic: str = "difference"
    cohens_d: Number = None


class Power(BaseModel):
    """Over replicate trials: the fraction significant and the spread of the difference."""

    power: float
    mean_difference: Number
    difference_p2_5_p97_5: tuple[Number, Number]


class Replicates(BaseModel):
    """Power over replicate trials."""

    n: int
    alpha: float
    comparisons: dict[str, Power]


class TrialSummary(BaseModel):
    """The ``ketasim trial`` result: endpoints per arm and comparisons with the control
    (first replicate), and power over replicates when there are several."""

    trial: str
    source: str | None
    scale: str
    allocation: Literal["parallel", "crossover"]
    arms: dict[str, ArmSummary]
    comparisons: dict[str, ComparisonReport]
    control: str | None
    replicates: Replicates | None = None
    seed: int
    not_yet_modelled: list[str] = []
    """Design entries the model accepts but does not use yet."""
    disclaimer: str = DISCLAIMER


FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class ArmData:
    """One arm of one replicate: every patient's baseline, scores (LOCF and observed),
    events, dropout, sessions had and blood pressure."""

    baseline: FloatArray
    scores: FloatArray  # (P, A) with LOCF
    observed: FloatArray  # (P, A), NaN after dropout
    last_seen: NDArray[np.intp]  # index of the last attended assessment
    events: dict[str, BoolArray]
    patient: NDArray[np.int64]
    dropout_reason: NDArray[np.int8]
    sessions_before: FloatArray  # (P, A)
    vitals: dict[str, FloatArray]


def gather(design: TrialDesign, results: list[ChunkResult], replicate: int) -> dict[str, ArmData]:
    """Concatenate a replicate's chunks per arm, ordered by patient."""
    out: dict[str, ArmData] = {}
    for arm in design.arms:
        parts = sorted((r for r in results if r.arm == arm and r.replicate == replicate), key=lambda r: r.chunk)
        scores = np.concatenate([r.scores for r in parts]).astype(np.float64)
        seen = np.isfinite(scores)
        last = np.where(seen.any(axis=1), seen.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1), 0)
        # LOCF: forward-fill along assessments
        idx = np.where(seen, np.arange(scores.shape[1])[None, :], 0)
        np.maximum.accumulate(idx, axis=1, out=idx)
        filled = np.take_along_axis(scores, idx, axis=1)
        out[arm] = ArmData(
            baseline=np.concatenate([r.baseline for r in parts]).astype(np.float64),
            scores=filled,
            observed=scores,
            last_seen=last.astype(np.intp),
            events={k: np.concatenate([r.events[k] for r in parts]) for k in parts[0].events},
            patient=np.concatenate([r.patient for r in parts]),
            dropout_reason=np.concatenate([r.dropout_reason for r in parts]),
            sessions_before=np.concatenate([r.sessions_before for r in parts]).astype(np.float64),
            vitals={k: np.concatenate([r.vitals[k] for r in parts]).astype(np.float64) for k in parts[0].vitals},
        )
    return out


def _day_index(design: TrialDesign, day: float) -> int:
    return list(design.assessment_days).index(day)


def _responded(design: TrialDesign, d: ArmData) -> BoolArray:
    return scale(design.scale).responded(d.scores, d.baseline[:, None])


def _time_to_response(design: TrialDesign, d: ArmData) -> tuple[FloatArray, BoolArray]:
    days = np.asarray(design.assessment_days, dtype=np.float64)
    resp = _responded(design, d) & (days[None, :] > 0)
    resp &= np.arange(days.size)[None, :] <= d.last_seen[:, None]
    hit: BoolArray = np.asarray(resp.any(axis=1))
    first = np.argmax(resp, axis=1)
    return np.where(hit, days[first], days[d.last_seen]), hit


def _relapse(design: TrialDesign, d: ArmData, at_day: float) -> tuple[FloatArray, BoolArray, BoolArray]:
    """(time from at_day, event, among) for loss of response after responding at at_day."""
    days = np.asarray(design.assessment_days, dtype=np.float64)
    k = _day_index(design, at_day)
    resp = _responded(design, d)
    among = resp[:, k] & (d.last_seen >= k)
    later = np.arange(days.size)[None, :] > k
    lost = ~resp & later & (np.arange(days.size)[None, :] <= d.last_seen[:, None])
    hit: BoolArray = np.asarray(lost.any(axis=1))
    first = np.argmax(lost, axis=1)
    t = np.where(hit, days[first], days[np.maximum(d.last_seen, k)]) - at_day
    return t[among], hit[among], among


def _cohort(design: TrialDesign, d: ArmData) -> BoolArray:
    """Who is randomised in a withdrawal design: the selection criterion met on enough of the
    last assessments up to the randomisation day, still in the trial then."""
    w = design.withdrawal
    assert w is not None
    sel = w.select
    s = scale(design.scale)
    k = _day_index(design, w.at_day)
    window = d.observed[:, k - sel.of_last + 1 : k + 1]
    if sel.criterion == "responders":
        drop = sel.drop_at_least if sel.drop_at_least is not None else s.response_drop
        met = window <= (1.0 - drop) * d.baseline[:, None] + 1e-9
    else:
        at_most = sel.score_at_most if sel.score_at_most is not None else s.remission_max
        met = window <= at_most + 1e-9
    chosen = (np.sum(met, axis=1) >= sel.visits) & (d.last_seen >= k)
    if sel.criterion == "responders" and sel.exclude_remitters:
        chosen &= ~np.asarray(s.remitted(d.observed[:, k]), dtype=bool)
    return np.asarray(chosen)


def _withdrawal_relapse(design: TrialDesign, d: ArmData) -> tuple[FloatArray, BoolArray, BoolArray]:
    """(days from randomisation to relapse or censoring, relapsed, cohort) by the trial's rule:
    a score ≥ the threshold on consecutive assessments with the allowed gaps (default: loss of
    response on one), dated at the first of them."""
    w = design.withdrawal
    assert w is not None
    days = np.asarray(design.assessment_days, dtype=np.float64)
    k = _day_index(design, w.at_day)
    among = _cohort(design, d)
    obs = d.observed
    rule = w.relapse
    if rule is None:
        bad = np.isfinite(obs) & ~np.asarray(scale(design.scale).responded(obs, d.baseline[:, None]), dtype=bool)
        m, lo, hi = 1, 0.0, math.inf
    else:
        bad = np.isfinite(obs) & (obs >= rule.score_at_least - 1e-9)
        m, lo, hi = rule.consecutive_visits, rule.min_gap_days, rule.max_gap_days
    a = days.size
    starts = np.zeros((d.observed.shape[0], a), dtype=bool)
    for first in range(k + 1, a - m + 1):  # the few start visits; every patient at once
        span = days[first : first + m]
        gaps = np.diff(span)
        if np.all((gaps >= lo - 1e-9) & (gaps <= hi + 1e-9)):
            starts[:, first] = np.all(bad[:, first : first + m], axis=1)
    hit: BoolArray = np.asarray(starts.any(axis=1))
    when = days[np.argmax(starts, axis=1)]
    t = np.where(hit, when, days[np.maximum(d.last_seen, k)]) - w.at_day
    return t[among], hit[among], among


def _relapse_times(design: TrialDesign, e: Relapse | HazardRatio, d: ArmData) -> tuple[FloatArray, BoolArray, int]:
    if e.responders_at_day is not None:
        t, hit, among = _relapse(design, d, e.responders_at_day)
    else:
        t, hit, among = _withdrawal_relapse(design, d)
    return t, hit, int(among.sum())


def _relapse_grid(design: TrialDesign, e: Relapse | HazardRatio) -> FloatArray:
    days = np.asarray(design.assessment_days, dtype=np.float64)
    start = e.responders_at_day if e.responders_at_day is not None else design.withdrawal.at_day  # type: ignore[union-attr]
    return days[days > start] - start


def _sessions_to(design: TrialDesign, e: SessionsTo, d: ArmData) -> tuple[FloatArray, BoolArray]:
    """(sessions had before the first response/remission rating, reached) per patient."""
    days = np.asarray(design.assessment_days, dtype=np.float64)
    s = scale(design.scale)
    hit = _responded(design, d) if e.type == "sessions_to_response" else np.asarray(s.remitted(d.scores), dtype=bool)
    hit = hit & (days[None, :] > 0) & (np.arange(days.size)[None, :] <= d.last_seen[:, None])
    reached: BoolArray = np.asarray(hit.any(axis=1))
    index = np.where(reached, np.argmax(hit, axis=1), d.last_seen)
    return d.sessions_before[np.arange(index.size), index], reached


def _most_sessions(design: TrialDesign) -> float:
    """The most clinic sessions (ketamine, placebo, ECT) any arm can give: the sessions grid."""
    return float(max(len(session_times_h(arm.treatment)) for arm in design.arms.values()))


def _km(design: TrialDesign, e: Endpoint, d: ArmData) -> KaplanMeier:
    days = np.asarray(design.assessment_days, dtype=np.float64)
    if isinstance(e, TimeToResponse):
        t, hit = _time_to_response(design, d)
        return kaplan_meier(t, hit, days[days > 0])
    if isinstance(e, SessionsTo):
        t, hit = _sessions_to(design, e, d)
        return kaplan_meier(t, hit, np.arange(0.0, _most_sessions(design) + 1.0))
    assert isinstance(e, Relapse | HazardRatio)
    t, hit, _ = _relapse_times(design, e, d)
    return kaplan_meier(t, hit, _relapse_grid(design, e))


VITAL_STATISTIC = {
    "sbp_peak_rise_mmhg": "mean of each patient's largest systolic rise over the sessions attended (mmHg)",
    "dbp_peak_rise_mmhg": "mean of each patient's largest diastolic rise over the sessions attended (mmHg)",
    "sbp_at_least_180": "fraction with systolic pressure >= 180 mmHg at least once",
    "dbp_at_least_110": "fraction with diastolic pressure >= 110 mmHg at least once",
    "rise_at_least_40_25": "fraction with a systolic rise >= 40 or a diastolic rise >= 25 mmHg at least once",
    "sbp_largest_session_mean_rise_mmhg": "largest over the sessions of the mean systolic rise of the patients "
    "attending (mmHg; bootstrap CI)",
    "dbp_largest_session_mean_rise_mmhg": "largest over the sessions of the mean diastolic rise of the patients "
    "attending (mmHg; bootstrap CI)",
    "sbp_average_session_mean_rise_mmhg": "average over the sessions of the mean systolic rise of the patients "
    "attending (mmHg; bootstrap CI)",
    "dbp_average_session_mean_rise_mmhg": "average over the sessions of the mean diastolic rise of the patients "
    "attending (mmHg; bootstrap CI)",
}


def _session_statistic(e: Endpoint) -> tuple[str, OverSessions] | None:
    """For a statistic over sessions: (the per-session rises it reads, largest or average)."""
    if not (isinstance(e, VitalSign) and "_session_mean_" in e.measure):
        return None
    return f"{e.measure[:3]}_session_rise_mmhg", ("largest" if "_largest_" in e.measure else "average")


def _vital(e: VitalSign, d: ArmData) -> FloatArray | BoolArray:
    v = d.vitals
    if e.measure in ("sbp_peak_rise_mmhg", "dbp_peak_rise_mmhg"):
        return v[e.measure]
    if e.measure == "sbp_at_least_180":
        return np.asarray(v["sbp_peak_mmhg"] >= 180.0)
    if e.measure == "dbp_at_least_110":
        return np.asarray(v["dbp_peak_mmhg"] >= 110.0)
    return np.asarray((v["sbp_peak_rise_mmhg"] >= 40.0) | (v["dbp_peak_rise_mmhg"] >= 25.0))


def _binary(design: TrialDesign, e: Endpoint, d: ArmData) -> BoolArray:
    if isinstance(e, Proportion):
        k = _day_index(design, e.day)
        if e.type == "response":
            return _responded(design, d)[:, k]
        if e.score_at_most is not None:
            return np.asarray(d.scores[:, k] <= e.score_at_most + 1e-9)
        return scale(design.scale).remitted(d.scores[:, k])
    if isinstance(e, SustainedResponse):
        lo, hi = _day_index(design, e.from_day), _day_index(design, e.to_day)
        return np.asarray(_responded(design, d)[:, lo : hi + 1].all(axis=1))
    if isinstance(e, ResponseAnyTime):
        days = np.asarray(design.assessment_days, dtype=np.float64)
        s = scale(design.scale)
        seen = np.isfinite(d.observed) & (days[None, :] > 0) & (days[None, :] <= e.until_day)
        if e.type == "response_any_time":
            hit = np.asarray(s.responded(d.observed, d.baseline[:, None]), dtype=bool)
        else:
            at_most = e.score_at_most if e.score_at_most is not None else s.remission_max
            hit = np.asarray(d.observed <= at_most + 1e-9)
        return np.asarray((hit & seen).any(axis=1))
    if isinstance(e, AeDiscontinuation):
        return np.asarray(d.dropout_reason == DROPOUT_REASONS.index("adverse_events"))
    if isinstance(e, RelapseFraction):
        _, hit, _ = _withdrawal_relapse(design, d)
        return hit
    if isinstance(e, VitalSign):
        return np.asarray(_vital(e, d), dtype=bool)
    assert isinstance(e, AdverseEvent)
    return d.events[e.event]


def _change(design: TrialDesign, e: MeanChange | EffectSize, d: ArmData) -> FloatArray:
    return np.asarray(d.scores[:, _day_index(design, e.day)] - d.baseline)


def _mmrm(design: TrialDesign, e: MmrmDifference, arms: list[ArmData]) -> tuple[list[Estimate], list[Comparison]]:
    """LS-mean changes of ``arms`` (the first is the control) and each minus the control."""
    days = np.asarray(design.assessment_days, dtype=np.float64)
    post = days > 0
    change = np.concatenate([a.observed[:, post] - a.baseline[:, None] for a in arms])
    baseline = np.concatenate([a.baseline for a in arms])
    groups = np.concatenate([np.full(a.baseline.size, i) for i, a in enumerate(arms)])
    return mmrm(change, baseline, days[post], groups.tolist(), e.day)


def arm_endpoint(
    design: TrialDesign, e: Endpoint, d: ArmData, control: ArmData | None = None, is_control: bool = False
) -> ArmEndpoint:
    """One endpoint for one arm, with its 95% CI (``control``: for the MMRM's LS means)."""
    if isinstance(e, MeanChange):
        x = _change(design, e, d)
        return ArmEndpoint(**_estimate(mean_ci(x)), sd=_num(float(np.std(x, ddof=1)) if x.size > 1 else math.nan))
    if isinstance(e, EffectSize):
        return ArmEndpoint(
            **_estimate(standardised_change(_change(design, e, d))),
            statistic="standardised mean change from baseline (mean/SD)",
        )
    if isinstance(e, MmrmDifference):
        if control is None:
            return ArmEndpoint(value=None, ci95=(None, None), statistic="LS-mean change from baseline (MMRM)")
        estimates, _ = _mmrm(design, e, [control] if is_control else [control, d])
        return ArmEndpoint(**_estimate(estimates[-1]), statistic="LS-mean change from baseline (MMRM)")
    if (session := _session_statistic(e)) is not None:
        key, over = session
        return ArmEndpoint(
            **_estimate(session_statistic(d.vitals[key], over, seed=design.seed)),
            statistic=VITAL_STATISTIC[e.measure],  # type: ignore[union-attr]
        )
    if isinstance(e, VitalSign) and e.measure.endswith("_mmhg"):
        x = np.asarray(_vital(e, d), dtype=np.float64)
        return ArmEndpoint(
            **_estimate(mean_ci(x)),
            sd=_num(float(np.std(x, ddof=1)) if x.size > 1 else math.nan),
            statistic=VITAL_STATISTIC[e.measure],
        )
    if isinstance(e, TimeToResponse | Relapse | HazardRatio | SessionsTo):
        km = _km(design, e, d)
        among = _relapse_times(design, e, d)[2] if isinstance(e, Relapse | HazardRatio) else None
        unit = "sessions" if isinstance(e, SessionsTo) else "days"
        return ArmEndpoint(
            **_estimate(km.median()),
            curve=Curve(**km.as_json()),
            among=among,
            statistic=f"Kaplan-Meier median ({unit})",
        )
    b = _binary(design, e, d)
    statistic = VITAL_STATISTIC[e.measure] if isinstance(e, VitalSign) else None
    return ArmEndpoint(**_estimate(wilson(int(b.sum()), b.size)), statistic=statistic)


@dataclass(frozen=True)
class Compared:
    """A comparison and what its number is."""

    comparison: Comparison
    statistic: str = "difference"
    cohens_d: float | None = None

    @property
    def difference(self) -> float:
        """The estimate (a difference, ratio or standardised difference: ``statistic``)."""
        return self.comparison.difference

    @property
    def ci95(self) -> tuple[float, float]:
        """Its 95% confidence interval."""
        return self.comparison.ci95

    @property
    def p_value(self) -> float:
        """Its two-sided p-value."""
        return self.comparison.p_value


def compare(design: TrialDesign, e: Endpoint, arm: ArmData, control: ArmData) -> Compared:
    """Arm vs control for one endpoint."""
    paired = design.allocation == "crossover"
    if isinstance(e, MeanChange):
        return Compared(compare_means(_change(design, e, arm), _change(design, e, control), paired=paired))
    if isinstance(e, EffectSize):
        if paired:
            return Compared(
                _paired_effect(_change(design, e, arm), _change(design, e, control)),
                "standardised mean difference d_z (paired)",
            )
        g, d = hedges_g(_change(design, e, arm), _change(design, e, control))
        return Compared(g, "Hedges' g (change from baseline, pooled SD)", d)
    if isinstance(e, MmrmDifference):
        _, diffs = _mmrm(design, e, [control, arm])
        return Compared(diffs[0], "LS-mean difference (MMRM)")
    if isinstance(e, HazardRatio):
        t1, h1, _ = _relapse_times(design, e, arm)
        t0, h0, _ = _relapse_times(design, e, control)
        treated = np.concatenate([np.ones(t1.size, bool), np.zeros(t0.size, bool)])
        hr = cox_hazard_ratio(np.concatenate([t1, t0]), np.concatenate([h1, h0]), treated)
        return Compared(hr, "hazard ratio of relapse (Cox)")
    if (session := _session_statistic(e)) is not None:
        key, over = session
        return Compared(
            compare_session_statistics(arm.vitals[key], control.vitals[key], over, paired=paired, seed=design.seed)
        )
    if isinstance(e, VitalSign) and e.measure.endswith("_mmhg"):
        return Compared(
            compare_means(np.asarray(_vital(e, arm), float), np.asarray(_vital(e, control), float), paired=paired)
        )
    if isinstance(e, TimeToResponse | Relapse | SessionsTo):
        return Compared(compare_medians(_km(design, e, arm), _km(design, e, control)), "difference in medians")
    return Compared(compare_proportions(_binary(design, e, arm), _binary(design, e, control), paired=paired))


def _paired_effect(arm: FloatArray, control: FloatArray) -> Comparison:
    diff = arm - control
    est = standardised_change(diff)
    p = compare_means(arm, control, paired=True).p_value
    return Comparison(est.value, est.ci95, p)


def _num(x: float) -> float | None:
    return round(x, 6) if math.isfinite(x) else None


def _estimate(est: Estimate) -> dict[str, Number | tuple[Number, Number]]:
    return {"value": _num(est.value), "ci95": (_num(est.ci95[0]), _num(est.ci95[1]))}


def comparison_name(e: Endpoint, arm: str, control: str) -> str:
    """``response_day_15`` for two arms; ``response_day_15: arm vs control`` for more."""
    return f"{endpoint_name(e)}: {arm} vs {control}"


def _trajectory(design: TrialDesign, data: ArmData) -> Trajectory:
    days = [float(d) for d in design.assessment_days]
    mean = [_num(float(v)) for v in np.nanmean(data.scores, axis=0)]
    if data.scores.shape[0] > 1:
        sd = [_num(float(v)) for v in np.nanstd(data.scores, axis=0, ddof=1)]
    else:
        sd = [None] * len(days)
    return Trajectory(days=days, mean=mean, sd=sd)


def _p(p: float) -> Number:
    return float(f"{p:.4g}") if math.isfinite(p) else None


def summarise(design: TrialDesign, results: list[ChunkResult], replicates: int) -> TrialSummary:
    """Arms and comparisons of the first replicate, and (when more than one) power and the
    spread of differences over all replicates."""
    first = gather(design, results, 0)
    control = design.control_arm
    arms = {
        arm: ArmSummary(
            n=int(data.baseline.size),
            dropout={r: int(np.sum(data.dropout_reason == i)) for i, r in enumerate(DROPOUT_REASONS) if i > 0},
            endpoints={
                endpoint_name(e): arm_endpoint(
                    design, e, data, first[control] if control is not None else None, arm == control
                )
                for e in design.endpoints
            },
            trajectory=_trajectory(design, data),
        )
        for arm, data in first.items()
    }
    comparisons: dict[str, ComparisonReport] = {}
    power: dict[str, Power] = {}
    others = [a for a in design.arms if a != control] if control is not None else []
    single = len(others) == 1

    def name_of(e: Endpoint, arm: str) -> str:
        assert control is not None
        return endpoint_name(e) if single else comparison_name(e, arm, control)

    for arm in others:
        assert control is not None
        for e in design.endpoints:
            done = compare(design, e, first[arm], first[control])
            c = done.comparison
            comparisons[name_of(e, arm)] = ComparisonReport(
                difference=_num(c.difference),
                ci95=(_num(c.ci95[0]), _num(c.ci95[1])),
                p_value=_p(c.p_value),
                statistic=done.statistic,
                cohens_d=None if done.cohens_d is None else _num(done.cohens_d),
            )
    if control is not None and replicates > 1:
        diffs: dict[str, list[float]] = {}
        sig: dict[str, list[bool]] = {}
        for r in range(replicates):
            data = first if r == 0 else gather(design, results, r)
            for arm in others:
                for e in design.endpoints:
                    c = compare(design, e, data[arm], data[control]).comparison
                    diffs.setdefault(name_of(e, arm), []).append(c.difference)
                    sig.setdefault(name_of(e, arm), []).append(bool(c.p_value < design.alpha))
        for name, values in diffs.items():
            d = np.asarray(values, dtype=np.float64)
            d = d[np.isfinite(d)]
            power[name] = Power(
                power=round(float(np.mean(sig[name])), 6),
                mean_difference=_num(float(np.mean(d))) if d.size else None,
                difference_p2_5_p97_5=(
                    (_num(float(np.percentile(d, 2.5))), _num(float(np.percentile(d, 97.5))))
                    if d.size
                    else (None, None)
                ),
            )
    return TrialSummary(
        trial=design.name,
        source=design.source,
        scale=design.scale,
        allocation=design.allocation,
        arms=arms,
        comparisons=comparisons,
        control=control,
        replicates=Replicates(n=replicates, alpha=design.alpha, comparisons=power) if power else None,
        seed=design.seed,
        not_yet_modelled=design.not_yet_modelled(),
    )
