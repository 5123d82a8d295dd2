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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from ketasim.errors import TrialError
from ketasim.io.files import atomic_path
from ketasim.model import expose, outcomes
from ketasim.params import ParameterSet
from ketasim.pd._filters import solver_grid
from ketasim.pd.symptoms import EfficacyParameters, observe
from ketasim.pk import load_model
from ketasim.population import VirtualPopulation, sample_population
from ketasim.regimens import KetamineSessions, course_start_h, session_times_h
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


@dataclass(frozen=True)
class ChunkResult:
    """Per-patient results of one chunk (P patients, A assessments)."""

    arm: str
    replicate: int
    chunk: int
    patient: NDArray[np.int64]
    baseline: FloatArray
    scores: FloatArray  # (P, A), NaN after dropout
    dropout_day: FloatArray  # inf for completers
    events: dict[str, NDArray[np.bool_]]
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
        most = max(most, solver_grid(windows, horizon).size + len(design.assessment_days))
    return most


def plan(design: TrialDesign, *, replicates: int, to_file: bool, memory_mib: float = DEFAULT_MEMORY_MIB) -> Plan:
    """Chunk size and an estimate of peak memory; refuses (``TrialError``) a run that
    cannot fit in ``memory_mib``."""
    nodes = _nodes(design)
    size = int(max(16, min(MAX_CHUNK, CHUNK_WORKING_MIB * 2**20 // (nodes * BYTES_PER_NODE_PATIENT))))
    n = design.n_per_arm
    total = n * len(design.arms) * replicates
    per_patient = 8 * (len(design.assessment_days) + 3) + len(names("adverse_events")) + 8 * 4
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
        female_fraction=spec.female_fraction,
        failed_trials=(spec.failed_trials_min, spec.failed_trials_max),
    )


def simulate_chunk(
    design: TrialDesign, arm: str, replicate: int, chunk: int, size: int, params: ParameterSet
) -> ChunkResult:
    """One chunk of one arm: the batched model for all its patients, then what the trial
    records — scores by a rater (residual noise), dropout, adverse events."""
    pop = chunk_population(design, arm, replicate, chunk, size)
    treatment = design.arms[arm].treatment
    t0, horizon = _horizon_h(design, arm)
    days = np.asarray(design.assessment_days, dtype=np.float64)
    times = t0 + 24.0 * days
    times[days == 0] = max(t0 - 0.25, 0.0)  # day 0: before the first dose
    sessions = np.asarray(session_times_h(treatment), dtype=np.float64)
    if sessions.size:  # on a session day the rating is taken before that day's dose, as in the trials
        at_session = np.min(np.abs(times[:, None] - sessions[None, :]), axis=1) < PRE_DOSE_H
        times[at_session] -= PRE_DOSE_H
    ex = expose(treatment, pop.covariates, horizon, params=params, pk_etas=pop.pk_etas, output_times_h=times)
    res = outcomes(ex, design.condition, pop.baselines, times, params=params, gains=pop.gains(params))
    rng = np.random.default_rng(
        np.random.SeedSequence((design.seed, replicate, 1 + list(design.arms).index(arm), chunk, 7))
    )
    efficacy = EfficacyParameters.from_params(params, design.condition)
    model_scores = res.scales[design.scale]
    scores = observe(model_scores, design.scale, efficacy.residual_sd, rng)
    baseline = pop.baselines[design.scale]
    scores[:, days == 0] = baseline[:, None]
    hazard = -math.log(1.0 - design.dropout_fraction) / max(design.follow_up_days, 1e-9)
    dropout = rng.exponential(1.0 / hazard, pop.n) if hazard > 0 else np.full(pop.n, np.inf)
    scores[days[None, :] > dropout[:, None]] = np.nan
    events: dict[str, NDArray[np.bool_]] = {}
    session_day = np.array([(s.time_h - t0) / 24.0 for s in res.sessions])
    given = session_day[None, :] <= dropout[:, None]
    for name in names("adverse_events"):
        p = np.zeros((pop.n, len(res.sessions)))
        for k, s in enumerate(res.sessions):  # a few sessions, each for all patients at once
            p[:, k] = s.event_probability[name]
        events[name] = np.any((rng.random(p.shape) < p) & given, axis=1)
    cov = pop.covariates
    return ChunkResult(
        arm=arm,
        replicate=replicate,
        chunk=chunk,
        patient=np.arange(chunk * size, chunk * size + pop.n, dtype=np.int64),
        baseline=baseline,
        scores=scores,
        dropout_day=dropout,
        events=events,
        covariates={
            "weight_kg": cov.weight_kg,
            "age_years": cov.age_years,
            "female": cov.female.astype(np.float64),
            "height_cm": pop.height_cm,
        },
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
        events=r.events,
        covariates={},
    )
