"""Trial endpoints from per-patient results: per arm with 95% CIs, arm vs control, and
power over replicate trials.

Missing scores after dropout are carried forward from the last assessment (LOCF, the
analysis of Singh 2016 and SYNAPSE) for mean change, response, remission and sustained
response; time-to-event endpoints censor a patient at the last assessment attended.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from ketasim import DISCLAIMER
from ketasim.trials.design import (
    AdverseEvent,
    Endpoint,
    MeanChange,
    Proportion,
    Relapse,
    SustainedResponse,
    TimeToResponse,
    TrialDesign,
    endpoint_name,
)
from ketasim.trials.run import ChunkResult
from ketasim.trials.statistics import (
    Comparison,
    Estimate,
    KaplanMeier,
    compare_means,
    compare_medians,
    compare_proportions,
    kaplan_meier,
    mean_ci,
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
    """One endpoint in one arm; ``sd`` for mean change, ``curve`` for time-to-event endpoints,
    ``among`` for relapse (the responders followed)."""

    sd: Number = None
    curve: Curve | None = None
    among: int | None = None


class Trajectory(BaseModel):
    """Mean (SD) score per assessment day, last observation carried forward."""

    days: list[float]
    mean: list[Number]
    sd: list[Number]


class ArmSummary(BaseModel):
    """One arm of the first replicate."""

    n: int
    endpoints: dict[str, ArmEndpoint]
    trajectory: Trajectory


class ComparisonReport(BaseModel):
    """Arm minus control for one endpoint."""

    difference: Number
    ci95: tuple[Number, Number]
    p_value: Number


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
    disclaimer: str = DISCLAIMER


FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class ArmData:
    """One arm of one replicate: every patient's baseline, scores (LOCF) and events."""

    baseline: FloatArray
    scores: FloatArray  # (P, A) with LOCF
    last_seen: NDArray[np.intp]  # index of the last attended assessment
    events: dict[str, BoolArray]
    patient: NDArray[np.int64]


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
            last_seen=last.astype(np.intp),
            events={k: np.concatenate([r.events[k] for r in parts]) for k in parts[0].events},
            patient=np.concatenate([r.patient for r in parts]),
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


def _km(design: TrialDesign, e: Endpoint, d: ArmData) -> KaplanMeier:
    days = np.asarray(design.assessment_days, dtype=np.float64)
    if isinstance(e, TimeToResponse):
        t, hit = _time_to_response(design, d)
        return kaplan_meier(t, hit, days[days > 0])
    assert isinstance(e, Relapse)
    t, hit, _ = _relapse(design, d, e.responders_at_day)
    grid = days[days > e.responders_at_day] - e.responders_at_day
    return kaplan_meier(t, hit, grid)


def _binary(design: TrialDesign, e: Endpoint, d: ArmData) -> BoolArray:
    if isinstance(e, Proportion):
        k = _day_index(design, e.day)
        if e.type == "response":
            return _responded(design, d)[:, k]
        return scale(design.scale).remitted(d.scores[:, k])
    if isinstance(e, SustainedResponse):
        lo, hi = _day_index(design, e.from_day), _day_index(design, e.to_day)
        return np.asarray(_responded(design, d)[:, lo : hi + 1].all(axis=1))
    assert isinstance(e, AdverseEvent)
    return d.events[e.event]


def _change(design: TrialDesign, e: MeanChange, d: ArmData) -> FloatArray:
    return np.asarray(d.scores[:, _day_index(design, e.day)] - d.baseline)


def arm_endpoint(design: TrialDesign, e: Endpoint, d: ArmData) -> ArmEndpoint:
    """One endpoint for one arm, with its 95% CI."""
    if isinstance(e, MeanChange):
        x = _change(design, e, d)
        return ArmEndpoint(**_estimate(mean_ci(x)), sd=_num(float(np.std(x, ddof=1)) if x.size > 1 else math.nan))
    if isinstance(e, TimeToResponse | Relapse):
        km = _km(design, e, d)
        among = int(_relapse(design, d, e.responders_at_day)[2].sum()) if isinstance(e, Relapse) else None
        return ArmEndpoint(**_estimate(km.median()), curve=Curve(**km.as_json()), among=among)
    b = _binary(design, e, d)
    return ArmEndpoint(**_estimate(wilson(int(b.sum()), b.size)))


def compare(design: TrialDesign, e: Endpoint, arm: ArmData, control: ArmData) -> Comparison:
    """Arm minus control for one endpoint."""
    paired = design.allocation == "crossover"
    if isinstance(e, MeanChange):
        return compare_means(_change(design, e, arm), _change(design, e, control), paired=paired)
    if isinstance(e, TimeToResponse | Relapse):
        return compare_medians(_km(design, e, arm), _km(design, e, control))
    return compare_proportions(_binary(design, e, arm), _binary(design, e, control), paired=paired)


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
            endpoints={endpoint_name(e): arm_endpoint(design, e, data) for e in design.endpoints},
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
            c = compare(design, e, first[arm], first[control])
            comparisons[name_of(e, arm)] = ComparisonReport(
                difference=_num(c.difference), ci95=(_num(c.ci95[0]), _num(c.ci95[1])), p_value=_p(c.p_value)
            )
    if control is not None and replicates > 1:
        diffs: dict[str, list[float]] = {}
        sig: dict[str, list[bool]] = {}
        for r in range(replicates):
            data = first if r == 0 else gather(design, results, r)
            for arm in others:
                for e in design.endpoints:
                    c = compare(design, e, data[arm], data[control])
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
    )
