"""Running a virtual trial: chunks of patients through the batched model, results streamed.

The unit of work is a *chunk*: up to a few hundred patients of one arm in one replicate,
simulated in one call (:func:`simulate_chunk`, a pure function of the design and the
chunk's coordinates, so it runs the same in this process, in local worker processes or on a
``dask.distributed`` cluster).  Its per-patient results are small (scores at the assessment
days, dropout, adverse events) and are kept for the endpoints; the tidy per-assessment rows
go to Parquet chunk by chunk when an output file is given.

Randomness: every chunk draws from ``SeedSequence((seed, replicate, group, chunk))``, where
the group is the arm (parallel allocation) or shared by all arms (crossover: the same
patients receive every arm).  The same seed therefore gives identical results whatever the
executor or the number of workers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from ketasim.errors import TrialError
from ketasim.io.files import atomic_path
from ketasim.model import expose, outcomes
from ketasim.model.adaptive import decide_sessions
from ketasim.params import ParameterSet
from ketasim.pd._filters import solver_grid
from ketasim.pd.adverse import AdverseParameters, record_bp, recorded_session_rise
from ketasim.pd.comparators import comparator_effect
from ketasim.pd.symptoms import EfficacyParameters, observe
from ketasim.pk import load_model
from ketasim.population import VirtualPopulation, sample_population
from ketasim.regimens import KetamineSessions, TreatmentItem, course_start_h, session_times_h, shifted
from ketasim.trials.conduct import conduct
from ketasim.trials.design import TrialDesign
from ketasim.vocabulary import names, scale

FloatArray = NDArray[np.float64]
BYTES_PER_NODE_PATIENT = 8 * 40
"""Working memory per patient and solver node: ~40 float64 arrays (PK, states, filters)."""
CHUNK_WORKING_MIB = 256.0
MAX_CHUNK = 2000
BYTES_PER_ROW = 80  # one tidy Parquet/DataFrame row held in memory (10 columns)
DEFAULT_MEMORY_MIB = 2048.0
PRE_DOSE_H = 5.0 / 60.0
"""An assessment due at a session's start is taken this long before the dose."""


DROPOUT_REASONS = ("completed", "other", "adverse_events", "lack_of_efficacy")
"""Codes of :attr:`ChunkResult.dropout_reason`."""
VITALS = ("sbp_peak_rise_mmhg", "dbp_peak_rise_mmhg", "sbp_peak_mmhg", "dbp_peak_mmhg")
"""Per patient, over the sessions attended."""
SESSION_VITALS = ("sbp_session_rise_mmhg", "dbp_session_rise_mmhg")
"""Per patient and session of the arm's course: the recorded rise, NaN at a session not attended."""


@dataclass(frozen=True)
class ChunkResult:
    """Per-patient results of one chunk (P patients, A assessments); days count from the
    first session of the arm's course (of its period, in a crossover with periods)."""

    arm: str
    replicate: int
    chunk: int
    patient: NDArray[np.int64]
    baseline: FloatArray  # the period's baseline score
    scores: FloatArray  # (P, A), NaN after dropout
    dropout_day: FloatArray  # inf for completers
    dropout_reason: NDArray[np.int8]  # index into DROPOUT_REASONS
    sessions_before: NDArray[np.float32]  # (P, A) sessions had before each assessment
    events: dict[str, NDArray[np.bool_]]
    vitals: dict[str, FloatArray]  # VITALS (P,), SESSION_VITALS (P, sessions)
    covariates: dict[str, FloatArray]


@dataclass(frozen=True)
class Plan:
    """How a trial is cut into chunks, and the memory it needs."""

    chunk_size: int
    chunks_per_arm: int
    nodes: int
    memory_mib: float


def _horizon_h(design: TrialDesign, arm: str) -> tuple[float, float]:
    t0 = course_start_h(design.arms[arm].treatment)
    return t0, t0 + 24.0 * design.follow_up_days + 1.0


def _nodes(design: TrialDesign) -> int:
    """Solver nodes of the longest arm (the grid is shared by a chunk's patients)."""
    most = 0
    for name, arm in design.arms.items():
        _, horizon = _horizon_h(design, name)
        windows = [
            w
            for item in arm.treatment
            if isinstance(item, KetamineSessions)
            for w in load_model(item.drug).input_windows(item.doses())
        ]
        readings = len(session_times_h(arm.treatment)) * len(design.bp_readings_min)  # the cuff's, as outputs
        most = max(most, solver_grid(windows, horizon).size + len(design.assessment_days) + readings)
    return most


def plan(design: TrialDesign, *, replicates: int, to_file: bool, memory_mib: float = DEFAULT_MEMORY_MIB) -> Plan:
    """Chunk size and an estimate of peak memory; refuses (``TrialError``) a run that
    cannot fit in ``memory_mib``."""
    nodes = _nodes(design)
    size = int(max(16, min(MAX_CHUNK, CHUNK_WORKING_MIB * 2**20 // (nodes * BYTES_PER_NODE_PATIENT))))
    n = design.n_per_arm
    total = n * len(design.arms) * replicates
    a = len(design.assessment_days)  # scores, baseline, dropout, sessions had, reason, events, vitals
    sessions = max(len(session_times_h(arm.treatment)) for arm in design.arms.values())
    per_patient = (
        8 * (a + 3)
        + 4 * a
        + 1
        + len(names("adverse_events"))
        + 4 * (len(VITALS) + len(SESSION_VITALS) * sessions)
        + 8 * 4
    )
    held = total * per_patient + (0 if to_file else total * len(design.assessment_days) * BYTES_PER_ROW)
    need = (held + min(size, n) * nodes * BYTES_PER_NODE_PATIENT + 350 * 2**20) / 2**20
    if need > memory_mib:
        hint = "" if to_file else "; write the per-patient rows to a file with --out to stream them"
        raise TrialError(
            [
                (
                    "n_per_arm",
                    f"{n} patients per arm × {len(design.arms)} arms × {replicates} replicates needs about "
                    f"{need:,.0f} MiB, over the {memory_mib:,.0f} MiB allowed{hint}",
                )
            ]
        )
    return Plan(chunk_size=min(size, n), chunks_per_arm=math.ceil(n / min(size, n)), nodes=nodes, memory_mib=need)


def _group(design: TrialDesign, arm: str) -> int:
    return 0 if design.allocation == "crossover" else 1 + list(design.arms).index(arm)


def chunk_population(design: TrialDesign, arm: str, replicate: int, chunk: int, size: int) -> VirtualPopulation:
    """The chunk's patients (crossover: the same patients in every arm)."""
    lo = chunk * size
    n = min(size, design.n_per_arm - lo)
    spec = design.population
    return sample_population(
        n,
        (design.seed, replicate, _group(design, arm), chunk),
        design.condition,
        {design.scale: design.baseline_mean},
        demographics=spec.demographics(),
    )


def _streams(design: TrialDesign, replicate: int, arm: str, chunk: int) -> dict[str, np.random.Generator]:
    """Independent random streams of a chunk: ``rater`` (scores, other dropout, adverse
    events — as before courses followed the patient), ``decisions``, ``vitals``, ``dropout``,
    ``cuff`` (the blood-pressure readings' error)."""
    key = (design.seed, replicate, 1 + list(design.arms).index(arm), chunk)
    return {
        name: np.random.default_rng(np.random.SeedSequence((*key, stream)))
        for name, stream in (("rater", 7), ("decisions", 8), ("vitals", 9), ("dropout", 10), ("cuff", 11))
    }


@dataclass(frozen=True)
class _Course:
    baseline: FloatArray
    scores: FloatArray
    dropout_day: FloatArray
    dropout_reason: NDArray[np.int8]
    sessions_before: NDArray[np.float32]
    events: dict[str, NDArray[np.bool_]]
    vitals: dict[str, FloatArray]


def _assessment_times(design: TrialDesign, treatment: Sequence[TreatmentItem], t0: float) -> FloatArray:
    days = np.asarray(design.assessment_days, dtype=np.float64)
    times = t0 + 24.0 * days
    times[days == 0] = max(t0 - 0.25, 0.0)  # day 0: before the first dose
    sessions = np.asarray(session_times_h(treatment), dtype=np.float64)
    if sessions.size:  # on a session day the rating is taken before that day's dose, as in the trials
        at_session = np.min(np.abs(times[:, None] - sessions[None, :]), axis=1) < PRE_DOSE_H
        times[at_session] -= PRE_DOSE_H
    return times


def _first(hit: NDArray[np.bool_], when: FloatArray) -> FloatArray:
    """Per row, ``when`` of the first True column (inf if none); ``when`` (C,) or (P, C)."""
    w = np.broadcast_to(when, hit.shape)
    return np.where(hit.any(axis=1), w[np.arange(hit.shape[0]), np.argmax(hit, axis=1)], np.inf)


def _run_course(
    design: TrialDesign,
    treatment: Sequence[TreatmentItem],
    pop: VirtualPopulation,
    t0: float,
    period_two: bool,
    params: ParameterSet,
    rngs: dict[str, np.random.Generator],
) -> _Course:
    """One course for a group of patients, as the trial records it: a rater's scores,
    decisions of a course that follows the patient, dropout and its reason, sessions had,
    adverse events and blood pressure."""
    days = np.asarray(design.assessment_days, dtype=np.float64)
    times = _assessment_times(design, treatment, t0)
    planned = np.asarray(session_times_h(treatment), dtype=np.float64)
    cuff_h = np.asarray(design.bp_readings_min, dtype=np.float64) / 60.0
    out_times = np.unique(np.concatenate([times, (planned[:, None] + cuff_h[None, :]).ravel()]))
    at_assessment = np.searchsorted(out_times, times)
    horizon = max(t0 + 24.0 * design.follow_up_days + 1.0, float(out_times[-1]))
    efficacy = EfficacyParameters.from_params(params, design.condition)
    s = scale(design.scale)
    gains = pop.gains(params)

    def rate(model_scores: FloatArray, _decision: int) -> FloatArray:
        return observe(model_scores, design.scale, efficacy.residual_sd, rngs["decisions"])

    decided = decide_sessions(
        treatment, pop.covariates, design.condition, pop.baselines, design.scale, params,
        pk_etas=pop.pk_etas, gains=gains, rate=rate,
    )  # fmt: skip
    ex = expose(
        treatment, pop.covariates, horizon, params=params, pk_etas=pop.pk_etas, output_times_h=out_times,
        dose_scale=decided, readouts_only=True,
    )  # fmt: skip
    res = outcomes(ex, design.condition, pop.baselines, out_times, params=params, gains=gains)
    rng = rngs["rater"]
    scores = observe(res.scales[design.scale][:, at_assessment], design.scale, efficacy.residual_sd, rng)
    at_zero = days == 0
    if period_two:  # the period's own baseline: the rating before its first session
        baseline = scores[:, np.argmax(at_zero)].copy()
    else:
        baseline = pop.baselines[design.scale]
        scores[:, at_zero] = baseline[:, None]
    n = pop.n
    hazard = -math.log(1.0 - design.dropout_fraction) / max(design.follow_up_days, 1e-9)
    other = rng.exponential(1.0 / hazard, n) if hazard > 0 else np.full(n, np.inf)

    # clinic sessions of this period: given (a course that follows the patient may skip one)
    session_day = np.array([(x.time_h - t0) / 24.0 for x in res.sessions])
    in_period = session_day > -1e-9 if session_day.size else np.zeros(0, dtype=bool)
    given = np.ones((n, session_day.size), dtype=bool) if ex.session_given is None else ex.session_given > 0
    given &= in_period[None, :]
    peaks = np.stack([x.peak_occupancy for x in res.sessions], axis=1) if res.sessions else np.zeros((n, 0))
    comparator_days = [
        (np.asarray(c.session_h) - t0) / 24.0 for c in ex.comparators if c.session_h
    ]  # ECT sessions (all given)

    dropout, reason = other, np.where(np.isfinite(other), 1, 0).astype(np.int8)
    if design.dropout_model == "modelled":
        c = conduct(params)
        d = rngs["dropout"]
        tolerance = ex.tolerance_at(np.array([x.time_h for x in res.sessions]))
        leave = (d.random(peaks.shape) < c.ae_probability(peaks, tolerance)) & given
        ae_day = _first(leave, session_day) if session_day.size else np.full(n, np.inf)
        for sched in ex.comparators:
            effect = comparator_effect(sched.name, efficacy.residual_sd, efficacy.ssri_omega)
            if sched.session_h and effect.discontinuation_per_session > 0:
                sd = (np.asarray(sched.session_h) - t0) / 24.0
                hit = (d.random((n, sd.size)) < effect.discontinuation_per_session) & (sd >= 0)[None, :]
                ae_day = np.minimum(ae_day, _first(hit, sd))
            if sched.start_h is not None and effect.discontinuation_per_week > 0:
                rate_per_day = -math.log1p(-effect.discontinuation_per_week) / 7.0
                ae_day = np.minimum(ae_day, (sched.start_h - t0) / 24.0 + d.exponential(1.0 / rate_per_day, n))
        weeks = np.diff(days, prepend=days[0]) / 7.0
        nonresponse = ~np.asarray(s.responded(scores, baseline[:, None]), dtype=bool) & (days > 0)[None, :]
        if design.withdrawal is not None:  # after randomisation, lack of efficacy is the relapse endpoint
            nonresponse &= (days <= design.withdrawal.at_day)[None, :]
        loe_day = _first((d.random(scores.shape) < c.loe_probability(weeks)[None, :]) & nonresponse, days)
        for code, day in ((2, ae_day), (3, loe_day)):
            earlier = day < dropout
            dropout = np.where(earlier, day, dropout)
            reason = np.where(earlier, code, reason).astype(np.int8)
    scores[days[None, :] > dropout[:, None] + 1e-9] = np.nan

    attended = given & (session_day[None, :] <= dropout[:, None] + 1e-9)
    events: dict[str, NDArray[np.bool_]] = {}
    for name in names("adverse_events"):
        p = np.zeros((n, len(res.sessions)))
        for k, x in enumerate(res.sessions):  # a few sessions, each for all patients at once
            p[:, k] = x.event_probability[name]
        events[name] = np.any((rng.random(p.shape) < p) & attended, axis=1)

    when = (times - t0) / 24.0
    before = (attended[:, :, None] & (session_day[None, :, None] < when[None, None, :] - 1e-9)).sum(axis=1)
    for sd in comparator_days:
        had = (sd[None, :, None] >= -1e-9) & (sd[None, :, None] <= dropout[:, None, None] + 1e-9)
        before = before + (had & (sd[None, :, None] < when[None, None, :] - 1e-9)).sum(axis=1)

    base_vitals = conduct(params).baseline_vitals(rngs["vitals"], pop.covariates.age_years)
    windows = np.searchsorted(out_times, np.array([x.time_h for x in res.sessions])[:, None] + cuff_h[None, :])
    adverse = AdverseParameters.from_params(params)
    vitals: dict[str, FloatArray] = {}
    one_draw = int(rngs["cuff"].integers(2**63))  # a reading's SBP and DBP errors share it (docs/model.md §6)
    readings: tuple[tuple[str, Literal["SBP", "DBP"], str], ...] = (
        ("sbp_mmhg", "SBP", "systolic_mmhg"),
        ("dbp_mmhg", "DBP", "diastolic_mmhg"),
    )
    for series, pressure, base in readings:
        cuff = np.random.default_rng(one_draw)
        per_session, largest, above = _recorded_rises(
            res.adverse[series][:, windows], attended, pressure, adverse, cuff
        )
        vitals[f"{series[:3]}_peak_rise_mmhg"] = largest
        vitals[f"{series[:3]}_session_rise_mmhg"] = per_session[:, in_period]
        vitals[f"{series[:3]}_peak_mmhg"] = base_vitals[base] + above
    return _Course(baseline, scores, dropout, reason, before.astype(np.float32), events, vitals)


def _recorded_rises(
    curve: FloatArray,
    attended: NDArray[np.bool_],
    pressure: Literal["SBP", "DBP"],
    adverse: AdverseParameters,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Blood pressure as the cuff records it at each session attended (``curve``: patients ×
    sessions × readings, the first before the dose; :func:`~ketasim.pd.adverse.record_bp`),
    as the validation reads the published rises: (each session's rise, the largest reading
    after the dose less the pre-dose one, NaN at a session not attended; per patient the
    largest of them; per patient the highest reading above the patient's own pre-dose
    curve), the last two 0 for a patient who attended none."""
    recorded = record_bp(curve, pressure, adverse, rng)
    per_session = np.where(attended, recorded_session_rise(recorded), np.nan)
    largest = np.where(attended, per_session, -np.inf).max(axis=1, initial=-np.inf)
    highest = np.max(recorded[:, :, 1:], axis=2)
    above = np.where(attended, highest - curve[:, :, 0], -np.inf).max(axis=1, initial=-np.inf)
    none = ~attended.any(axis=1)
    return per_session, np.where(none, 0.0, largest), np.where(none, 0.0, above)


def simulate_chunk(
    design: TrialDesign, arm: str, replicate: int, chunk: int, size: int, params: ParameterSet
) -> ChunkResult:
    """One chunk of one arm: the batched model for all its patients, then what the trial
    records — scores by a rater (residual noise), decisions of a course that follows the
    patient, dropout and why, adverse events and blood pressure.  In a crossover with
    periods, half the patients have this arm first and half second (after the other arm and
    the washout)."""
    problems = [
        (name, f"{value!r} is not a whole number")
        for name, value in (("replicate", replicate), ("chunk", chunk), ("size", size))
        if isinstance(value, bool) or not isinstance(value, int)
    ]
    if not problems:
        if arm not in design.arms:
            problems.append(("arm", f"{arm!r} is not one of the design's arms {sorted(design.arms)}"))
        if replicate < 0:
            problems.append(("replicate", f"{replicate} is negative"))
        if size < 1:
            problems.append(("size", f"{size} patients per chunk; at least 1"))
        elif not 0 <= chunk * size < design.n_per_arm:
            problems.append(("chunk", f"chunk {chunk} of {size} patients is outside the arm's {design.n_per_arm}"))
    if problems:
        raise TrialError(problems)
    pop = chunk_population(design, arm, replicate, chunk, size)
    treatment = design.arms[arm].treatment
    rngs = _streams(design, replicate, arm, chunk)
    patient = np.arange(chunk * size, chunk * size + pop.n, dtype=np.int64)
    if design.crossover is None:
        course = _run_course(design, treatment, pop, course_start_h(treatment), False, params, rngs)
    else:
        names_ = list(design.arms)
        other = design.arms[names_[1 - names_.index(arm)]].treatment
        second = np.flatnonzero(patient % 2 != names_.index(arm))  # sequence 0: listed order; 1: reversed
        first = np.flatnonzero(patient % 2 == names_.index(arm))
        offset = design.crossover.period_days + design.crossover.washout_days
        later = tuple(shifted(item, offset) for item in treatment)
        start_1, start_2 = course_start_h(treatment), course_start_h(later)
        parts = [
            (first, _run_course(design, treatment, pop.take(first), start_1, False, params, rngs)),
            (second, _run_course(design, (*other, *later), pop.take(second), start_2, True, params, rngs)),
        ]
        course = _merge(parts, pop.n)
    cov = pop.covariates
    return ChunkResult(
        arm=arm,
        replicate=replicate,
        chunk=chunk,
        patient=patient,
        baseline=course.baseline,
        scores=course.scores,
        dropout_day=course.dropout_day,
        dropout_reason=course.dropout_reason,
        sessions_before=course.sessions_before,
        events=course.events,
        vitals=course.vitals,
        covariates={
            "weight_kg": cov.weight_kg,
            "age_years": cov.age_years,
            "female": cov.female.astype(np.float64),
            "height_cm": pop.height_cm,
        },
    )


def _put(pieces: list[tuple[NDArray[np.intp], NDArray[Any]]], n: int) -> NDArray[Any]:
    """Groups' rows put back in patient order."""
    sample = pieces[0][1]
    out = np.empty((n, *sample.shape[1:]), dtype=sample.dtype)
    for index, values in pieces:
        out[index] = values
    return out


def _merge(parts: list[tuple[NDArray[np.intp], _Course]], n: int) -> _Course:
    """The courses of a crossover's two sequence groups as one, in patient order."""
    first = parts[0][1]
    return _Course(
        baseline=_put([(i, c.baseline) for i, c in parts], n),
        scores=_put([(i, c.scores) for i, c in parts], n),
        dropout_day=_put([(i, c.dropout_day) for i, c in parts], n),
        dropout_reason=_put([(i, c.dropout_reason) for i, c in parts], n),
        sessions_before=_put([(i, c.sessions_before) for i, c in parts], n),
        events={k: _put([(i, c.events[k]) for i, c in parts], n) for k in first.events},
        vitals={k: _put([(i, c.vitals[k]) for i, c in parts], n) for k in first.vitals},
    )


def tidy_rows(design: TrialDesign, r: ChunkResult) -> pa.Table:
    """One row per patient and assessment: replicate, arm, patient, day, scale, score,
    baseline, change, responded, remitted, observed (False after dropout), covariates."""
    days = np.asarray(design.assessment_days, dtype=np.float64)
    p, a = r.scores.shape
    s = scale(design.scale)
    score = r.scores.ravel()
    base = np.repeat(r.baseline, a)
    return pa.table(
        {
            "replicate": pa.array(np.full(p * a, r.replicate, dtype=np.int32)),
            "arm": pa.array(np.full(p * a, r.arm, dtype=object), type=pa.string()).dictionary_encode(),
            "patient": np.repeat(r.patient, a),
            "day": np.tile(days, p),
            "scale": pa.array(np.full(p * a, design.scale, dtype=object), type=pa.string()).dictionary_encode(),
            "score": score,
            "baseline": base,
            "change": score - base,
            "responded": s.responded(score, base),
            "remitted": s.remitted(score),
            "observed": np.isfinite(score),
            "weight_kg": np.repeat(r.covariates["weight_kg"], a),
            "age_years": np.repeat(r.covariates["age_years"], a),
            "female": np.repeat(r.covariates["female"] > 0.5, a),
        }
    )


Progress = Callable[[int, int], None]


def _tasks(design: TrialDesign, replicates: int, size: int, chunks: int) -> list[tuple[str, int, int]]:
    return [(arm, r, c) for r in range(replicates) for arm in design.arms for c in range(chunks)]


def _local(
    design: TrialDesign, tasks: list[tuple[str, int, int]], size: int, params: ParameterSet
) -> Iterator[ChunkResult]:
    for arm, r, c in tasks:
        yield simulate_chunk(design, arm, r, c, size, params)


SCHEDULER_ADDRESS = re.compile(r"^(?:(?:tcp|tls)://)?(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-]+):\d{1,5}$")
SCHEDULER_TIMEOUT_S = 10


def check_scheduler(address: str) -> str:
    """A dask scheduler address ``[tcp://|tls://]HOST:PORT``, else :class:`TrialError`."""
    if not SCHEDULER_ADDRESS.match(address) or not 0 < int(address.rsplit(":", 1)[1]) < 65536:
        raise TrialError.one(
            "scheduler",
            f"{address!r} is not a scheduler address; give [tcp://|tls://]HOST:PORT, e.g. tcp://127.0.0.1:8786",
        )
    return address


def _client(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    """(client, local cluster or None); an unreachable scheduler is a :class:`TrialError`."""
    from dask.distributed import Client, LocalCluster

    if scheduler is None:
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return Client(cluster), cluster  # type: ignore[no-untyped-call]
    check_scheduler(scheduler)
    try:
        return Client(scheduler, timeout=SCHEDULER_TIMEOUT_S), None  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as err:
        raise TrialError.one(
            "scheduler", f"{scheduler!r} cannot be reached within {SCHEDULER_TIMEOUT_S} s: {err}"
        ) from None


def _dask(
    design: TrialDesign,
    tasks: list[tuple[str, int, int]],
    size: int,
    params: ParameterSet,
    connection: tuple[Any, Any],
    workers: int,
) -> Iterator[ChunkResult]:
    """Chunks on a dask.distributed cluster (a scheduler's, or a local one with ``workers``
    processes), at most a few in flight per worker, gathered in order."""
    client, cluster = connection
    try:
        in_flight = 2 * max(1, len(client.scheduler_info().get("workers", {})) or workers)
        futures: list[Any] = []
        it = iter(tasks)
        for task in it:
            futures.append(client.submit(simulate_chunk, design, *task, size, params, pure=False))
            if len(futures) >= in_flight:
                break
        while futures:
            result = futures.pop(0).result()
            nxt = next(it, None)
            if nxt is not None:
                futures.append(client.submit(simulate_chunk, design, *nxt, size, params, pure=False))
            yield result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def execute(
    design: TrialDesign,
    params: ParameterSet,
    *,
    replicates: int = 1,
    out: str | Path | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
    memory_mib: float = DEFAULT_MEMORY_MIB,
    keep_rows: bool = True,
) -> tuple[list[ChunkResult], pa.Table | None, Plan]:
    """Every chunk of every arm and replicate; per-patient rows to ``out`` (Parquet, written
    to a temporary name and renamed at the end) or returned as a table (``keep_rows``)."""
    p = plan(design, replicates=replicates, to_file=out is not None, memory_mib=memory_mib)
    tasks = _tasks(design, replicates, p.chunk_size, p.chunks_per_arm)
    if scheduler is None and workers <= 1:
        source = _local(design, tasks, p.chunk_size, params)
    else:  # connect (or refuse the address) before any output is opened
        source = _dask(design, tasks, p.chunk_size, params, _client(scheduler, workers), workers)
    results: list[ChunkResult] = []
    tables: list[pa.Table] = []

    def consume(write: Callable[[pa.Table], None] | None) -> None:
        for i, r in enumerate(source):
            if write is not None:
                write(tidy_rows(design, r))
            elif keep_rows:
                tables.append(tidy_rows(design, r))
            results.append(_slim(r))
            if progress is not None:
                progress(i + 1, len(tasks))

    if out is not None:
        with atomic_path(out) as tmp:
            writer: pq.ParquetWriter | None = None
            try:

                def write(t: pa.Table) -> None:
                    nonlocal writer
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, t.schema, compression="zstd")
                    writer.write_table(t)

                consume(write)
            finally:
                if writer is not None:
                    writer.close()
        return results, None, p
    consume(None)
    return results, (pa.concat_tables(tables) if tables else None), p


def _slim(r: ChunkResult) -> ChunkResult:
    """Keep what the endpoints need (float32 scores, no covariates) to bound memory."""
    return ChunkResult(
        arm=r.arm,
        replicate=r.replicate,
        chunk=r.chunk,
        patient=r.patient,
        baseline=r.baseline.astype(np.float32),
        scores=r.scores.astype(np.float32),
        dropout_day=r.dropout_day.astype(np.float32),
        dropout_reason=r.dropout_reason,
        sessions_before=r.sessions_before,
        events=r.events,
        vitals={k: v.astype(np.float32) for k, v in r.vitals.items()},
        covariates={},
    )
