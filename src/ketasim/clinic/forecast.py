"""Course forecast for one patient: virtual copies of the patient, then a measurement-based
update from the patient's own scores.

The copies share the patient's covariates and baselines; what is unknown about this patient
— PK random effects, drug, placebo and antidepressant gains, dissociation sensitivity, and
how far the recorded entry score sits from the true one (the entry rating's visit-to-visit
variability, :func:`ketasim.pd.symptoms.entry_severity`) — is drawn from the population
distributions (:func:`ketasim.population.sample_population`).
Observed scores reweight the copies by their likelihood under the calibrated rater
residual (log-normal, σ = ``residual_sd_log``; a 0.5-point offset keeps a score of 0
finite) — importance sampling of the posterior over patient-level parameters.  Bands are
weighted 10th, 50th and 90th percentiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from ketasim.clinic.dosing import Regimen
from ketasim.clinic.patient import ObservedScore, PatientFile
from ketasim.covariates import Covariates
from ketasim.model import expose, outcomes
from ketasim.model.adaptive import decide_sessions
from ketasim.params import ParameterSet
from ketasim.pd.symptoms import EfficacyParameters
from ketasim.population import Demographics, VirtualPopulation, sample_population
from ketasim.regimens import Escalation, KetamineSessions, course_start_h
from ketasim.vocabulary import scale

FloatArray = NDArray[np.float64]
COPIES = 400
CHUNK_COPIES = 50
"""Copies simulated at once: bounds a plan's working memory (full-grid arrays of one chunk)."""
FOLLOW_UP_DAYS = 56.0
MIN_RESPONSE = 0.05
"""Below this response probability the time to loss of response is not reported (it would
rest on a few unlikely copies)."""
SCORE_OFFSET = 0.5
SESSION_WINDOW_H = 4.0
SESSION_STEP_H = 5.0 / 60.0


def copies(patient: PatientFile, n: int = COPIES, seed: int = 2026) -> VirtualPopulation:
    """``n`` virtual copies of the patient: own covariates, baselines and failed antidepressant
    trials, unknown parameters drawn; treated open-label in an outpatient clinic (the
    placebo context of :mod:`ketasim.pd.symptoms`)."""
    clinic = Demographics(
        failed_trials=(patient.failed_antidepressant_trials, patient.failed_antidepressant_trials), open_label=True
    )
    pop = sample_population(n, seed, patient.condition, dict(patient.baseline_scores), clinic)
    return replace(
        pop,
        covariates=Covariates(
            np.full(n, patient.weight_kg), np.full(n, patient.age_years), np.full(n, patient.sex == "female")
        ),
        height_cm=np.full(n, patient.height_cm),
        baseline_z=np.zeros(n),
    )


@dataclass(frozen=True)
class Simulated:
    """The copies' course under a regimen: daily scores, and dissociation and blood pressure
    every 5 minutes for 4 hours after each session's start."""

    days: FloatArray
    scores: FloatArray  # (copies, days) on the patient's scale, model score
    start_h: float
    session_times_h: FloatArray  # (sessions,)
    window_min: FloatArray  # (W,) minutes after a session's start
    cadss: FloatArray  # (copies, sessions, W)
    sbp_mmhg: FloatArray  # (copies, sessions, W)
    dbp_mmhg: FloatArray  # (copies, sessions, W)
    dose_multipliers: FloatArray  # (copies, sessions) of the regimen's base dose


def course_item(regimen: Regimen) -> KetamineSessions:
    """The regimen's sessions as one model course at its base dose (each session's own dose,
    and an escalation, are per-copy multipliers of it)."""
    first = regimen.sessions[0]
    return KetamineSessions(
        drug=regimen.drug,
        route=regimen.route,
        dose_mg=regimen.base_dose_mg,
        duration_min=first.duration_min,
        days=tuple(s.day for s in regimen.sessions),
    )


def escalation_multipliers(
    patient: PatientFile, regimen: Regimen, pop: VirtualPopulation, params: ParameterSet
) -> FloatArray:
    """(copies × induction sessions) multipliers of the base dose: each session's planned dose,
    raised by the escalation steps for every copy not responding before a step's session, as
    a rater sees it (:func:`ketasim.model.adaptive.decide_sessions`; tolerability is left to
    the clinician and **assumed** for every copy)."""
    induction = regimen.induction
    fixed = np.array([s.dose_mg / regimen.base_dose_mg for s in induction])
    if not regimen.escalation:
        return np.tile(fixed, (pop.n, 1))
    head = int(len(induction) > 1 and induction[0].dose_mg != induction[1].dose_mg)  # a lower first dose
    items: list[KetamineSessions] = []
    template = course_item(regimen.with_interval(None))
    if head:
        items.append(template.model_copy(update={"dose_mg": induction[0].dose_mg, "days": (induction[0].day,)}))
    steps = tuple(Escalation(to_mg=e.dose_mg, after_session=e.after_session - head) for e in regimen.escalation)
    items.append(template.model_copy(update={"days": template.days[head:], "escalate": steps}))
    decided = decide_sessions(
        items,
        pop.covariates,
        patient.condition,
        pop.baselines,
        patient.scale,
        params,
        pk_etas=pop.pk_etas,
        gains=pop.gains(params),
    )[len(items) - 1]
    return np.hstack([np.tile(fixed[:head], (pop.n, 1)), decided * fixed[head:]])


def simulate_copies(
    patient: PatientFile,
    regimen: Regimen,
    pop: VirtualPopulation,
    params: ParameterSet,
    induction_multipliers: FloatArray | None = None,
    chunk: int = CHUNK_COPIES,
) -> Simulated:
    """Daily scores to 8 weeks after the regimen's last session, and 5-minute outputs for 4
    hours after each session; ``chunk`` copies at a time, keeping only those outputs.
    ``induction_multipliers`` (copies × induction sessions, from
    :func:`escalation_multipliers`) set each copy's induction doses; every later session is
    given at the copy's last induction dose."""
    item = course_item(regimen)
    n_ind = len(regimen.induction)
    if induction_multipliers is None:
        induction_multipliers = escalation_multipliers(patient, replace(regimen, escalation=()), pop, params)
    after = np.array([s.dose_mg / regimen.base_dose_mg for s in regimen.sessions[n_ind:]])
    multipliers = np.hstack([induction_multipliers, induction_multipliers[:, -1:] * after[None, :]])
    t0 = course_start_h([item])
    last_day = regimen.sessions[-1].day
    days = np.arange(0.0, last_day + FOLLOW_UP_DAYS + 1.0)
    daily = t0 + 24.0 * days
    daily[0] = max(t0 - 0.25, 0.0)  # day 0 before the first dose
    sessions = np.array([t0 + 24.0 * s.day for s in regimen.sessions])
    window_h = np.arange(0.0, SESSION_WINDOW_H + 1e-9, SESSION_STEP_H)
    times = np.unique(np.concatenate([daily, (sessions[:, None] + window_h[None, :]).ravel()]))
    at_day = np.searchsorted(times, daily)
    at_window = np.searchsorted(times, sessions[:, None] + window_h[None, :] - 1e-9)
    vitals = {k: v for k, v in patient.vitals.model_dump().items() if k != "spo2_pct"}
    scores, cadss, sbp, dbp = [], [], [], []
    for lo in range(0, pop.n, chunk):  # a few chunks, each vectorised over its copies
        part = pop.take(slice(lo, min(pop.n, lo + chunk)))
        ex = expose(
            [item],
            part.covariates,
            float(times[-1]),
            params=params,
            pk_etas=part.pk_etas,
            output_times_h=times,
            dose_scale={0: multipliers[lo : lo + part.n]},
            readouts_only=True,
        )
        res = outcomes(
            ex,
            patient.condition,
            part.baselines,
            times,
            params=params,
            gains=part.gains(params),
            vitals={k: np.full(part.n, v) for k, v in vitals.items()},
        )
        scores.append(res.scales[patient.scale][:, at_day])
        cadss.append(res.adverse["cadss"][:, at_window])
        sbp.append(res.adverse["sbp_mmhg"][:, at_window])
        dbp.append(res.adverse["dbp_mmhg"][:, at_window])
    return Simulated(
        days=days,
        scores=np.concatenate(scores),
        start_h=t0,
        session_times_h=sessions,
        window_min=window_h * 60.0,
        cadss=np.concatenate(cadss),
        sbp_mmhg=np.concatenate(sbp),
        dbp_mmhg=np.concatenate(dbp),
        dose_multipliers=multipliers,
    )


def weighted_quantiles(values: FloatArray, weights: FloatArray, qs: tuple[float, ...]) -> FloatArray:
    """Weighted quantiles of each column of ``values`` (copies × times): (len(qs), times),
    interpolated on the mid-point weighted CDF (all columns at once)."""
    order = np.argsort(values, axis=0)
    v = np.take_along_axis(values, order, axis=0)
    w = weights[order]
    cdf = (np.cumsum(w, axis=0) - 0.5 * w) / np.sum(weights)
    cols = np.arange(values.shape[1])
    n = values.shape[0]
    out = np.empty((len(qs), values.shape[1]))
    for i, q in enumerate(qs):  # three quantiles, each over every column
        k = np.clip(np.sum(cdf < q, axis=0), 1, max(n - 1, 1))
        c0, c1 = cdf[k - 1, cols], cdf[np.minimum(k, n - 1), cols]
        v0, v1 = v[k - 1, cols], v[np.minimum(k, n - 1), cols]
        frac = np.clip(np.where(c1 > c0, (q - c0) / np.where(c1 > c0, c1 - c0, 1.0), 0.0), 0.0, 1.0)
        out[i] = np.where(q <= cdf[0], v[0], np.where(q >= cdf[-1], v[-1], v0 + frac * (v1 - v0)))
    return out


def likelihood_weights(patient: PatientFile, sim: Simulated, params: ParameterSet) -> FloatArray:
    """Importance weights of the copies given the observed scores (uniform without any)."""
    n = sim.scores.shape[0]
    if not patient.observed_scores:
        return np.full(n, 1.0 / n)
    sigma = EfficacyParameters.from_params(params, patient.condition).residual_sd
    loglik = np.zeros(n)
    for obs in patient.observed_scores:  # a handful of visits, each vectorised over copies
        base = patient.baseline_scores[obs.scale]
        own = patient.baseline_scores[patient.scale]
        day = float(np.clip(obs.day, sim.days[0], sim.days[-1]))
        model = _at_day(sim, day)
        predicted = model * base / own  # every scale moves by the same fraction (docs/model.md)
        r = np.log(obs.score + SCORE_OFFSET) - np.log(predicted + SCORE_OFFSET)
        loglik += -0.5 * (r / sigma) ** 2
    w = np.exp(loglik - loglik.max())
    return np.asarray(w / w.sum(), dtype=np.float64)


def _at_day(sim: Simulated, day: float) -> FloatArray:
    k = int(np.clip(np.searchsorted(sim.days, day, side="right") - 1, 0, sim.days.size - 2))
    frac = (day - sim.days[k]) / (sim.days[k + 1] - sim.days[k])
    return np.asarray(sim.scores[:, k] * (1 - frac) + sim.scores[:, k + 1] * frac)


def _weighted_median(x: FloatArray, w: FloatArray) -> float:
    finite = np.isfinite(x)
    if np.sum(w[finite]) < 0.5 * np.sum(w):
        return math.inf
    order = np.argsort(x)
    cdf = np.cumsum(w[order]) / np.sum(w)
    return float(x[order][np.searchsorted(cdf, 0.5)])


def relapse_days(patient: PatientFile, sim: Simulated, after_day: float) -> tuple[NDArray[np.bool_], FloatArray]:
    """(responded at ``after_day`` + 1, days from then to loss of response; inf if none in follow-up)."""
    s = scale(patient.scale)
    baseline = patient.baseline_scores[patient.scale]
    k = int(np.searchsorted(sim.days, after_day + 1.0))
    responded = s.responded(sim.scores[:, k], baseline)
    lost = ~s.responded(sim.scores[:, k + 1 :], baseline)
    first = np.argmax(lost, axis=1)
    days: FloatArray = np.where(lost.any(axis=1), sim.days[k + 1 :][first] - sim.days[k], np.inf)
    return np.asarray(responded), days


@dataclass(frozen=True)
class Course:
    """The copies under the planned schedule and under induction only, with their weights
    (from the observed scores, under the planned schedule)."""

    plan: Simulated
    induction: Simulated
    weights: FloatArray
    n: int


class Band(BaseModel):
    """A weighted 10th, 50th and 90th percentile per day."""

    median: list[float]
    p10: list[float]
    p90: list[float]


class Forecast(Band):
    """The course forecast on the patient's scale, updated by the observed scores (``prior``:
    the band before them)."""

    scale: str
    days: list[float]
    response_probability: float
    response_assessed_day: float
    median_days_to_relapse: float | None
    """Median days to loss of response without maintenance among responders (None: beyond
    follow-up, or response too unlikely to say — below ``MIN_RESPONSE``)."""
    relapse_follow_up_days: float
    suggested_maintenance_interval_days: float | None
    """The maintenance interval of the planned schedule (None: no maintenance planned)."""
    schedule_days: list[float]
    """The session days the forecast was simulated with."""
    copies: int
    effective_copies: float
    observed_scores: list[ObservedScore]
    prior: Band | None
    band_width_mean: float
    prior_band_width_mean: float


def forecast(patient: PatientFile, regimen: Regimen, course: Course) -> Forecast:
    """The forecast of the planned schedule (and, with observed scores, the prior band)."""
    plan_sim, induction_sim, w = course.plan, course.induction, course.weights
    prior = weighted_quantiles(plan_sim.scores, np.full(course.n, 1.0 / course.n), (0.1, 0.5, 0.9))
    post = weighted_quantiles(plan_sim.scores, w, (0.1, 0.5, 0.9))
    end_induction = regimen.end_of_induction_day
    responded, days = relapse_days(patient, induction_sim, end_induction)
    wr = w * responded
    median_relapse = _weighted_median(days[responded], w[responded]) if wr.sum() >= MIN_RESPONSE else math.nan

    def series(x: FloatArray) -> list[float]:
        return [round(float(v), 3) for v in x]

    return Forecast(
        scale=patient.scale,
        days=series(plan_sim.days),
        median=series(post[1]),
        p10=series(post[0]),
        p90=series(post[2]),
        response_probability=round(float(np.sum(wr)), 4),
        response_assessed_day=end_induction + 1.0,
        median_days_to_relapse=None if not math.isfinite(median_relapse) else median_relapse,
        relapse_follow_up_days=FOLLOW_UP_DAYS,
        suggested_maintenance_interval_days=regimen.interval_days,
        schedule_days=[s.day for s in regimen.sessions],
        copies=course.n,
        effective_copies=round(float(1.0 / np.sum(w**2)), 1),
        observed_scores=list(patient.observed_scores),
        prior=Band(median=series(prior[1]), p10=series(prior[0]), p90=series(prior[2]))
        if patient.observed_scores
        else None,
        band_width_mean=round(float(np.mean(post[2] - post[0])), 3),
        prior_band_width_mean=round(float(np.mean(prior[2] - prior[0])), 3),
    )
